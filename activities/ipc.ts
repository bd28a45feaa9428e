/**
 * The messages a trial activity and its child process exchange over the IPC channel, and the
 * errors the activity side raises. One run per process: the parent sends `run`, the child
 * answers with any number of `epoch` messages and then exactly one `done` or `failed`.
 */
import type { TrialConfig } from '../spec/schema.js';
import { SweepError } from '../lib/errors.js';

/** Per-epoch metrics as the trainer reports them (Keras log names). */
export interface EpochLogs {
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  learning_rate: number;
  epoch_seconds: number;
  images_per_second: number;
}

/** One finished epoch, reported after its checkpoint is written. */
export interface EpochReport {
  /** 1-based epoch number. */
  epoch: number;
  logs: EpochLogs;
  /** Folder of the checkpoint written after this epoch. */
  checkpointDir: string;
  /**
   * The trial process's `tf.memory()` after this epoch (live tensors and their bytes), for
   * the worker's metrics; absent when the child did not send it.
   */
  memory?: { numTensors: number; numBytes: number };
}

/** The trainer's result for one trial (mirrors `training/trainer.ts`). */
export interface TrialSummary {
  epochsRun: number;
  bestEpoch: number;
  bestValAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  stoppedEarly: boolean;
  runDir: string;
  durationMs: number;
}

/** What the child process needs to train one trial. */
export interface TrialProcessInput {
  config: TrialConfig;
  /** Run folder: checkpoints, logs and history live here. */
  runDir: string;
  /** Continue from `runDir/checkpoint` instead of starting fresh. */
  resume: boolean;
  /** Intra-op threads TensorFlow may use. */
  threads: number;
}

/** An error as it crosses the process boundary: enough to rebuild a typed failure. */
export interface SerializedError {
  name: string;
  /** `SweepError.code`, or `UNEXPECTED` for errors that are not ours. */
  code: string;
  message: string;
  retryable: boolean;
  hint?: string;
}

/** Parent to child. */
export type ParentMessage = { type: 'run'; input: TrialProcessInput };

/** Child to parent. */
export type ChildMessage =
  | { type: 'epoch'; report: EpochReport }
  | { type: 'done'; summary: TrialSummary }
  | { type: 'failed'; error: SerializedError };

/** Turns anything thrown in the child into a {@link SerializedError}. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof SweepError) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    };
  }

  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  // Unknown errors (a bug, a flaky file system) get another attempt; the retry policy caps it.
  return { name, code: 'UNEXPECTED', message, retryable: true };
}

/**
 * The trial's own code failed in the child process and said so over IPC. Keeps the child's
 * error code and retryability, which decide whether Temporal tries again.
 */
export class TrialFailedError extends SweepError {
  readonly trialId: string;
  readonly childErrorName: string;

  constructor(trialId: string, error: SerializedError) {
    super(`trial ${trialId} failed: ${error.message}`, {
      code: error.code,
      retryable: error.retryable,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    });
    this.trialId = trialId;
    this.childErrorName = error.name;
  }
}

/**
 * The child process ended without a result: a native crash, an out-of-memory kill, or an
 * exit from outside. Retryable: the next attempt resumes from the last checkpoint.
 */
export class TrialProcessCrashedError extends SweepError {
  readonly trialId: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;

  constructor(
    trialId: string,
    exit: { exitCode: number | null; signal: NodeJS.Signals | null; logTail: string },
  ) {
    const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited ${exit.exitCode}`;
    const oom = exit.signal === 'SIGKILL' ? ' (out of memory?)' : '';
    const tail = exit.logTail.trim() === '' ? '' : `\nlast output:\n${exit.logTail.trimEnd()}`;

    super(`trial ${trialId}: its process ${how}${oom} before reporting a result${tail}`, {
      code: 'TRIAL_PROCESS_CRASHED',
      retryable: true,
      hint: 'The next attempt resumes from the last checkpoint; see trial.log in the run folder.',
    });
    this.trialId = trialId;
    this.exitCode = exit.exitCode;
    this.signal = exit.signal;
  }
}

/** The trial's process was stopped on purpose (cancel or worker shutdown). */
export class TrialAbortedError extends SweepError {
  readonly trialId: string;

  constructor(trialId: string) {
    super(`trial ${trialId} was stopped before it finished`, {
      code: 'TRIAL_ABORTED',
      retryable: true,
    });
    this.trialId = trialId;
  }
}
