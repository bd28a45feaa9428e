/**
 * What every Temporal-facing command does around its work: resolve where Temporal is, open
 * it (starting the embedded server if needed), run an in-process worker when the embedded
 * server has no other one, and clean up on the way out, also on Ctrl-C.
 */
import { existsSync } from 'node:fs';

import type { Worker } from '@temporalio/worker';

import type { TrialActivityOptions } from '../activities/trial.js';
import type { TrialKind } from '../workflows/types.js';
import { createSweepWorker, defaultSlots, threadsPerTrial } from '../workers/worker.js';
import { resolveTemporalSettings, type TemporalFlags } from './config.js';
import { openTemporal, type TemporalSession } from './connection.js';
import { devServerDatabase } from './dev-server.js';
import { SweepNotFoundError } from './errors.js';

/** Task queue of sweeps whose spec does not name one (the schema's default). */
export const DEFAULT_TASK_QUEUE = 'attention-sweep';

/** Flags of commands that may run trials in-process (start, resume). */
export interface TrialRunFlags {
  /** Trials this process runs at once; default {@link defaultSlots}. */
  slots?: number | undefined;
  /** Test and demo knob: `noop` trials return at once without TensorFlow. */
  trialKind?: TrialKind | undefined;
}

/**
 * How long no-op trials take, in milliseconds: `$SWEEP_NOOP_TRIAL_MS`, default 0. A test
 * knob, like `--trial-kind noop` itself.
 */
export function noopTrialMs(): number {
  const value = Number(process.env.SWEEP_NOOP_TRIAL_MS ?? '0');
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** Which worker a command wants in this process while it runs. */
export type WorkerNeed =
  /** No worker. */
  | 'none'
  /**
   * A workflows-only worker when this command started the embedded server (so queries and
   * updates get answers); none when another command's worker is already there.
   */
  | 'answers'
  /** A full worker (workflows and trials) on the embedded server; none on a cluster. */
  | 'trials';

/** Opens Temporal as the flags, environment and config file say. */
export async function openSession(flags: TemporalFlags): Promise<TemporalSession> {
  return openTemporal(resolveTemporalSettings(flags));
}

/**
 * The state folder when the flags mean the embedded server and no server has ever run there
 * (so it holds no sweep); null otherwise. Commands that only read or change existing sweeps
 * check it first, so they neither start a server nor leave a state folder just to find nothing.
 */
export function emptyEmbeddedState(flags: TemporalFlags): string | null {
  const settings = resolveTemporalSettings(flags);
  if (settings.address !== null) return null;
  return existsSync(devServerDatabase(settings.stateDir)) ? null : settings.stateDir;
}

/**
 * {@link openSession} for a command about one existing sweep.
 *
 * @throws SweepNotFoundError at once, starting nothing, when the embedded server has never run
 *   in the state folder.
 */
export async function openSessionFor(
  flags: TemporalFlags,
  sweepId: string,
): Promise<TemporalSession> {
  const empty = emptyEmbeddedState(flags);
  if (empty !== null) {
    throw new SweepNotFoundError(sweepId, resolveTemporalSettings(flags).namespace, {
      where: `here: no sweep has run with the embedded server of ${empty}`,
      hint:
        'Run the command in the folder the sweep was started from (or set SWEEP_STATE_DIR to ' +
        'its state folder); for a sweep on a cluster pass --temporal-address.',
    });
  }
  return openSession(flags);
}

/** Options of {@link withWorker}. */
export interface WithWorkerOptions {
  need: WorkerNeed;
  taskQueue: string;
  run?: TrialRunFlags;
  /** The in-process trial worker's MLflow client and metrics (`trials` need only). */
  trials?: Pick<TrialActivityOptions, 'tracking' | 'metrics'>;
}

/**
 * Runs `work` with the worker `need` asks for on `taskQueue` (see {@link WorkerNeed}), and
 * shuts that worker down when `work` settles. SIGINT or SIGTERM aborts `signal` and drains
 * the worker: running trials stop and resume from their checkpoint next time.
 */
export async function withWorker<T>(
  session: TemporalSession,
  options: WithWorkerOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onSignal = (): void => {
    if (!stop.signal.aborted) {
      stop.abort(new Error('interrupted'));
      process.stderr.write(
        'stopping: trials stop at their next batch (signal again to quit now)\n',
      );
      return;
    }

    // A second signal quits at once. Trial processes exit with their worker; embedded servers
    // left running are taken over, and stopped, by the next sweep command in this folder.
    process.stderr.write(
      `quit before cleaning up: embedded servers may still run; the next sweep command in ` +
        `this folder takes them over (state folder ${session.stateDir})\n`,
    );
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const worker = await workerFor(session, options);
    if (worker === null) return await work(stop.signal);

    return await worker.runUntil(() => work(stop.signal), { promiseCompletionTimeout: '5s' });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function workerFor(
  session: TemporalSession,
  options: WithWorkerOptions,
): Promise<Worker | null> {
  if (!session.embedded || options.need === 'none') return null;
  if (options.need === 'answers' && !session.startedServer) return null;

  const connection = await session.nativeConnection();
  if (options.need === 'answers') {
    return createSweepWorker({
      connection,
      namespace: session.namespace,
      taskQueue: options.taskQueue,
      role: 'workflows',
    });
  }

  const slots = options.run?.slots ?? defaultSlots();
  return createSweepWorker({
    connection,
    namespace: session.namespace,
    taskQueue: options.taskQueue,
    trials: {
      stateDir: session.stateDir,
      kind: options.run?.trialKind ?? 'train',
      slots,
      threadsPerTrial: threadsPerTrial(slots),
      noop: { durationMs: noopTrialMs() },
      ...options.trials,
    },
  });
}
