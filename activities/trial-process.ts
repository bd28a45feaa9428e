/**
 * Runs one trial in a child process, so a native TensorFlow crash or an out-of-memory kill
 * takes down that process only, never the worker. The child is a small entry script run with
 * tsx; epoch reports and the result come back over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  TrialAbortedError,
  TrialFailedError,
  TrialProcessCrashedError,
  type ChildMessage,
  type EpochReport,
  type ParentMessage,
  type TrialProcessInput,
  type TrialSummary,
} from './ipc.js';

/** The entry script the child runs unless told otherwise. */
export const DEFAULT_TRIAL_ENTRY = fileURLToPath(new URL('./trial-entry.ts', import.meta.url));

/** Characters of the child's output kept for crash messages. */
const LOG_TAIL_CHARS = 2000;

/** Options of {@link runTrialProcess}. */
export interface TrialProcessOptions {
  /** Trial id, for messages. */
  trialId: string;
  /** Sent to the child in its `run` message. */
  input: TrialProcessInput;
  /** Script the child runs (TypeScript, loaded with tsx); default {@link DEFAULT_TRIAL_ENTRY}. */
  entryScript?: string;
  /** Extra environment for the child (e.g. `CUDA_VISIBLE_DEVICES`), over the worker's own. */
  env?: Record<string, string>;
  /** Aborting stops the child: SIGTERM, then SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  /** Wait between SIGTERM and SIGKILL, in milliseconds; default 10,000. */
  killGraceMs?: number;
  /** File the child's stdout and stderr are appended to; default `<runDir>/trial.log`. */
  logFile?: string;
  /** Called for every epoch report, in order. */
  onEpoch?: (report: EpochReport) => void;
}

/**
 * Forks the trial's process, sends it the input, and resolves with its summary.
 *
 * @throws TrialFailedError when the trial's code failed (its code and retryability kept).
 * @throws TrialAbortedError when `signal` aborted the run.
 * @throws TrialProcessCrashedError when the process ended without a result.
 */
export async function runTrialProcess(options: TrialProcessOptions): Promise<TrialSummary> {
  const { trialId, input } = options;
  if (options.signal?.aborted === true) throw new TrialAbortedError(trialId);

  const logFile = options.logFile ?? `${input.runDir}/trial.log`;
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  let logTail = '';

  const child = fork(options.entryScript ?? DEFAULT_TRIAL_ENTRY, [], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });

  const keepTail = (chunk: Buffer): void => {
    log.write(chunk);
    logTail = (logTail + chunk.toString('utf8')).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  try {
    return await superviseChild(child, options, () => logTail);
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

function superviseChild(
  child: ChildProcess,
  options: TrialProcessOptions,
  logTail: () => string,
): Promise<TrialSummary> {
  const { trialId } = options;
  const killGraceMs = options.killGraceMs ?? 10_000;

  return new Promise<TrialSummary>((resolve, reject) => {
    let outcome: { summary: TrialSummary } | { error: Error } | undefined;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (): void => {
      aborted = true;
      if (child.exitCode !== null || child.signalCode !== null) return;

      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    };
    options.signal?.addEventListener('abort', stop, { once: true });

    child.on('message', (raw) => {
      const message = raw as ChildMessage;

      if (message.type === 'epoch') {
        options.onEpoch?.(message.report);
      } else if (message.type === 'done') {
        outcome = { summary: message.summary };
      } else if (message.type === 'failed') {
        outcome = { error: new TrialFailedError(trialId, message.error) };
      }
    });

    child.on('error', (error) => {
      outcome ??= { error };
    });

    // 'close' waits for stdio to drain, so the log tail is complete.
    child.on('close', (exitCode, signal) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);

      if (outcome !== undefined && 'summary' in outcome) {
        resolve(outcome.summary);
      } else if (aborted) {
        reject(new TrialAbortedError(trialId));
      } else if (outcome !== undefined) {
        reject(outcome.error);
      } else {
        reject(new TrialProcessCrashedError(trialId, { exitCode, signal, logTail: logTail() }));
      }
    });

    const start: ParentMessage = { type: 'run', input: options.input };
    child.send(start);
  });
}
