/**
 * The trial activity: runs one trial in a child process (or, on no-op workers, pretends to),
 * heartbeats its progress, and turns every way it can end into what Temporal needs: a small
 * summary, a retryable or non-retryable failure, or a confirmed cancellation.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';

import { ConfigError, SweepError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import type {
  TrialActivities,
  TrialActivityInput,
  TrialFailureDetails,
  TrialKind,
  TrialOutcome,
  TrialProgress,
} from '../workflows/types.js';
import { runNoopTrial, type NoopTrialOptions } from './noop.js';
import { TrialAbortedError } from './ipc.js';
import { runTrialProcess } from './trial-process.js';

/** Options of {@link createTrialActivities}, fixed for the life of a worker. */
export interface TrialActivityOptions {
  /** State folder; run folders go to `<stateDir>/runs/<sweepId>/<trialId>`. */
  stateDir: string;
  /** `train` (default) forks a training process; `noop` returns at once without TensorFlow. */
  kind?: TrialKind;
  /** Trials this worker runs at once (>= 1); default 1. Sizes the GPU and thread shares. */
  slots?: number;
  /**
   * TensorFlow intra-op threads per trial when the spec leaves `training.threads` at 0;
   * default max(1, floor(cores / slots)).
   */
  threadsPerTrial?: number;
  /** CUDA device ids; slot i sees only `gpus[i % gpus.length]`. Empty or absent: CPU. */
  gpus?: string[];
  /** How often the activity heartbeats between epochs, in milliseconds; default 1,000. */
  heartbeatIntervalMs?: number;
  /** Wait between SIGTERM and SIGKILL when stopping a trial, in milliseconds; default 10,000. */
  killGraceMs?: number;
  /** Child entry script (tests point it at a fake trainer); default `trial-entry.ts`. */
  entryScript?: string;
  /** Options of the `noop` kind. */
  noop?: NoopTrialOptions;
}

/**
 * The run folder of a trial. Ids are made file-name safe (anything but letters, digits, `.`,
 * `_` and `-` becomes `_`).
 */
export function trialRunDir(stateDir: string, sweepId: string, trialId: string): string {
  return join(stateDir, 'runs', safeName(sweepId), safeName(trialId));
}

/**
 * Builds the activities a sweep worker registers.
 *
 * @throws ConfigError for a slot count or thread count below 1.
 */
export function createTrialActivities(options: TrialActivityOptions): TrialActivities {
  const slotCount = options.slots ?? 1;
  if (!Number.isInteger(slotCount) || slotCount < 1) {
    throw new ConfigError(`worker slots must be a whole number of at least 1, got ${slotCount}`);
  }

  const threadsPerTrial =
    options.threadsPerTrial ?? Math.max(1, Math.floor(availableParallelism() / slotCount));
  if (!Number.isInteger(threadsPerTrial) || threadsPerTrial < 1) {
    throw new ConfigError(
      `threads per trial must be a whole number of at least 1, got ${threadsPerTrial}`,
    );
  }

  const pool = new SlotPool(slotCount);
  const settings = { ...options, threadsPerTrial };

  return {
    runTrial: (input) => runTrial(input, settings, pool),
  };
}

async function runTrial(
  input: TrialActivityInput,
  options: TrialActivityOptions & { threadsPerTrial: number },
  pool: SlotPool,
): Promise<TrialOutcome> {
  const context = Context.current();
  const { attempt } = context.info;
  const runDir = trialRunDir(options.stateDir, input.sweepId, input.trialId);
  const progress = readProgress(context.info.heartbeatDetails);
  const isRetry = attempt > 1 || context.info.heartbeatDetails != null || input.priorAttempts > 0;
  const log = logger.child({ sweepId: input.sweepId, trialId: input.trialId, attempt });

  // Heartbeat on a timer, not only per epoch: cancellation reaches an activity only in the
  // answer to a heartbeat, and an epoch can take minutes.
  context.heartbeat(progress);
  const heartbeatTimer = setInterval(
    () => context.heartbeat(progress),
    options.heartbeatIntervalMs ?? 1000,
  );

  const slot = pool.acquire();
  const startedAtMs = Date.now();
  log.info({ kind: options.kind ?? 'train', slot, resume: isRetry }, 'trial started');

  try {
    if (input.failFirstAttempt && input.priorAttempts + attempt === 1) {
      throw ApplicationFailure.create({
        type: 'TEST_ONLY_FAILURE',
        message:
          `trial ${input.trialIndex} failed on purpose on its first attempt ` +
          '(execution.testOnly.failTrials)',
        details: [failureDetails(attempt, 'TEST_ONLY_FAILURE', progress)],
      });
    }

    const onEpoch = (epoch: number, valAccuracy: number): void => {
      progress.epoch = epoch;
      progress.bestValAccuracy = Math.max(progress.bestValAccuracy ?? -Infinity, valAccuracy);
      context.heartbeat(progress);
    };

    const outcome =
      options.kind === 'noop'
        ? await runNoopTrial(
            input,
            { attempt, runDir, signal: context.cancellationSignal },
            options.noop ?? {},
            onEpoch,
          )
        : await runTrainingProcess(input, options, {
            attempt,
            runDir,
            resume: isRetry,
            slot,
            progress,
            signal: context.cancellationSignal,
            onEpoch,
          });

    log.info({ durationMs: Date.now() - startedAtMs, epoch: outcome.epochsRun }, 'trial done');
    return outcome;
  } catch (error) {
    throw toActivityError(error, { context, attempt, progress, log });
  } finally {
    clearInterval(heartbeatTimer);
    pool.release(slot);
  }
}

async function runTrainingProcess(
  input: TrialActivityInput,
  options: TrialActivityOptions & { threadsPerTrial: number },
  run: {
    attempt: number;
    runDir: string;
    resume: boolean;
    slot: number;
    progress: TrialProgress;
    signal: AbortSignal;
    onEpoch: (epoch: number, valAccuracy: number) => void;
  },
): Promise<TrialOutcome> {
  const threads =
    input.config.training.threads > 0 ? input.config.training.threads : options.threadsPerTrial;

  const env: Record<string, string> = {
    // TensorFlow reads these when its thread pools start, before the first op.
    TF_NUM_INTRAOP_THREADS: String(threads),
    TF_NUM_INTEROP_THREADS: '1',
    OMP_NUM_THREADS: String(threads),
  };
  const gpus = options.gpus ?? [];
  if (gpus.length > 0) env.CUDA_VISIBLE_DEVICES = gpus[run.slot % gpus.length] ?? '';

  const summary = await runTrialProcess({
    trialId: input.trialId,
    input: { config: input.config, runDir: run.runDir, resume: run.resume, threads },
    env,
    signal: run.signal,
    ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
    ...(options.entryScript === undefined ? {} : { entryScript: options.entryScript }),
    onEpoch: (report) => {
      run.progress.checkpointDir = report.checkpointDir;
      run.onEpoch(report.epoch, report.logs.val_accuracy);
    },
  });

  return {
    epochsRun: summary.epochsRun,
    bestEpoch: summary.bestEpoch,
    bestValAccuracy: finiteOrNull(summary.bestValAccuracy),
    testAccuracy: finiteOrNull(summary.testAccuracy),
    testLoss: finiteOrNull(summary.testLoss),
    stoppedEarly: summary.stoppedEarly,
    durationMs: summary.durationMs,
    attempt: run.attempt,
    runDir: run.runDir,
  };
}

/**
 * Maps how a trial ended onto Temporal's failure model:
 * - cancelled by the workflow: CancelledFailure (the trial ends `cancelled`);
 * - worker shutting down: a retryable failure, so the next attempt resumes elsewhere;
 * - our typed errors: ApplicationFailure whose type is the error code and whose
 *   `nonRetryable` is the opposite of the error's `retryable`;
 * - anything else: a retryable ApplicationFailure.
 */
function toActivityError(
  error: unknown,
  run: {
    context: Context;
    attempt: number;
    progress: TrialProgress;
    log: typeof logger;
  },
): Error {
  const { context, attempt, progress, log } = run;

  if (context.cancellationSignal.aborted || error instanceof TrialAbortedError) {
    if (context.cancellationDetails?.workerShutdown === true) {
      log.warn({ epoch: progress.epoch }, 'trial handed back: worker shutting down');
      return ApplicationFailure.create({
        type: 'TRIAL_HANDED_BACK',
        message: 'the worker shut down; the next attempt resumes from the last checkpoint',
        details: [failureDetails(attempt, 'TRIAL_HANDED_BACK', progress)],
      });
    }

    log.info({ epoch: progress.epoch }, 'trial cancelled');
    return new CancelledFailure('trial cancelled', [progress]);
  }

  if (error instanceof ApplicationFailure) {
    log.warn({ code: error.type, message: error.message }, 'trial failed');
    return error;
  }

  const code = error instanceof SweepError ? error.code : 'UNEXPECTED';
  const retryable = error instanceof SweepError ? error.retryable : true;
  const message = error instanceof Error ? error.message : String(error);
  log.warn({ code, retryable, err: error }, 'trial failed');

  return ApplicationFailure.create({
    type: code,
    message,
    nonRetryable: !retryable,
    details: [failureDetails(attempt, code, progress)],
    ...(error instanceof Error ? { cause: error } : {}),
  });
}

function failureDetails(
  attempt: number,
  code: string,
  progress: TrialProgress,
): TrialFailureDetails {
  return { attempt, code, progress: { ...progress } };
}

function readProgress(details: unknown): TrialProgress {
  const fresh: TrialProgress = { epoch: 0, checkpointDir: null, bestValAccuracy: null };
  if (typeof details !== 'object' || details === null) return fresh;

  const candidate = details as Partial<TrialProgress>;
  return {
    epoch: typeof candidate.epoch === 'number' ? candidate.epoch : 0,
    checkpointDir: typeof candidate.checkpointDir === 'string' ? candidate.checkpointDir : null,
    bestValAccuracy:
      typeof candidate.bestValAccuracy === 'number' ? candidate.bestValAccuracy : null,
  };
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Hands out slot numbers 0..count-1 so each running trial gets its own GPU and share. */
class SlotPool {
  private readonly free: number[];

  constructor(count: number) {
    this.free = Array.from({ length: count }, (_, index) => index);
  }

  acquire(): number {
    // The worker never runs more activities than slots, so this is never empty in practice.
    return this.free.shift() ?? 0;
  }

  release(slot: number): void {
    if (!this.free.includes(slot)) this.free.push(slot);
    this.free.sort((a, b) => a - b);
  }
}
