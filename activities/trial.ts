/**
 * The trial activity: runs one trial in a child process (or, on no-op workers, pretends to),
 * heartbeats its progress, and turns every way it can end into what Temporal needs: a small
 * summary, a retryable or non-retryable failure, or a confirmed cancellation.
 *
 * A trial of a tracked sweep records its MLflow child run from here, the activity's process
 * (never from the trial's child process, which may crash): started before training, one
 * point per epoch, finished with the run folder's files, or ended FAILED or KILLED. Every
 * trial also feeds the worker's Prometheus metrics: started, epochs, outcome, slots.
 */
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';

import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';

import { ConfigError, SweepError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { trialOutcomeOf } from '../metrics/trial-outcome.js';
import type { TrialOutcomeLabel, WorkerMetrics } from '../metrics/worker-metrics.js';
import type { MlflowClient } from '../tracking/client.js';
import { TrialRecorder } from '../tracking/trial-run.js';
import type {
  TrialActivities,
  TrialActivityInput,
  TrialFailureDetails,
  TrialKind,
  TrialOutcome,
  TrialProgress,
} from '../workflows/types.js';
import { runNoopTrial, type NoopTrialOptions } from './noop.js';
import { TrialAbortedError, type EpochReport, type TrialSummary } from './ipc.js';
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
  /**
   * This worker's MLflow client (one per worker). Trials whose input carries a tracking ref
   * record their run through it; without it they fail, retryable, so that a worker that
   * can record takes them. `noop` trials never record.
   */
  tracking?: MlflowClient | null;
  /** This worker's Prometheus metrics; absent records none. */
  metrics?: WorkerMetrics | null;
  /** Host name tagged on trial runs (`sweep.worker_host`); default `os.hostname()`. */
  workerHost?: string;
}

/**
 * The run folder of a trial. Ids are made file-name safe (anything but letters, digits, `.`,
 * `_` and `-` becomes `_`, and an id of exactly `.` or `..` becomes underscores), so a run
 * folder never leaves `<stateDir>/runs`.
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
  const metrics = options.metrics ?? null;

  // Heartbeat on a timer, not only per epoch: cancellation reaches an activity only in the
  // answer to a heartbeat, and an epoch can take minutes. It also keeps beating while MLflow
  // stores the run's files, which can outlast the heartbeat timeout.
  context.heartbeat(progress);
  const heartbeatTimer = setInterval(
    () => context.heartbeat(progress),
    options.heartbeatIntervalMs ?? 1000,
  );

  const slot = pool.acquire();
  const startedAtMs = Date.now();
  metrics?.trialStarted(input.sweepId);
  metrics?.setSlots(pool.size, pool.busy);
  log.info({ kind: options.kind ?? 'train', slot, resume: isRetry }, 'trial started');

  // The MLflow recorder, once started, so a failure can end its run the matching way.
  const recording: { recorder: TrialRecorder | null } = { recorder: null };
  let outcomeLabel: TrialOutcomeLabel = 'succeeded';

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

    const recordProgress = (epoch: number, valAccuracy: number): void => {
      progress.epoch = epoch;
      progress.bestValAccuracy = Math.max(progress.bestValAccuracy ?? -Infinity, valAccuracy);
      context.heartbeat(progress);
    };

    const onEpoch = (report: EpochReport): void => {
      progress.checkpointDir = report.checkpointDir;
      recordProgress(report.epoch, report.logs.val_accuracy);

      // Queued in the background: MLflow being slow or down never holds training up.
      void recording.recorder?.epoch(report);
      metrics?.epochFinished(input.sweepId, {
        epochSeconds: report.logs.epoch_seconds,
        imagesPerSecond: report.logs.images_per_second,
        valAccuracy: report.logs.val_accuracy,
        slot,
        ...(report.memory === undefined ? {} : { tensorMemory: report.memory }),
      });
    };

    // No-op trials train nothing: their epoch has an accuracy but no timings.
    const onNoopEpoch = (epoch: number, valAccuracy: number): void => {
      recordProgress(epoch, valAccuracy);
      const noTimings = { epochSeconds: Number.NaN, imagesPerSecond: Number.NaN };
      metrics?.epochFinished(input.sweepId, { ...noTimings, valAccuracy, slot });
    };

    const outcome =
      options.kind === 'noop'
        ? await runNoopTrial(
            input,
            { attempt, runDir, signal: context.cancellationSignal },
            options.noop ?? {},
            onNoopEpoch,
          )
        : await trainAndRecord(input, options, {
            attempt,
            runDir,
            resume: isRetry,
            slot,
            signal: context.cancellationSignal,
            log,
            recording,
            onEpoch,
          });

    log.info({ durationMs: Date.now() - startedAtMs, epoch: outcome.epochsRun }, 'trial done');
    return outcome;
  } catch (error) {
    const failure = toActivityError(error, { context, attempt, progress, log });
    outcomeLabel = trialOutcomeOf(failure);
    await endRecorder(recording.recorder, outcomeLabel, error, input.priorAttempts + attempt);
    throw failure;
  } finally {
    clearInterval(heartbeatTimer);
    pool.release(slot);
    metrics?.trialFinished(input.sweepId, outcomeLabel, {
      durationSeconds: (Date.now() - startedAtMs) / 1000,
      slot,
    });
    metrics?.setSlots(pool.size, pool.busy);
  }
}

/**
 * Trains the trial in its process, recording it in MLflow when its sweep is tracked: the
 * child run is started before training (`recording.recorder`), gets every epoch, and is
 * finished, files and all, before the activity returns (still heartbeating meanwhile).
 */
async function trainAndRecord(
  input: TrialActivityInput,
  options: TrialActivityOptions & { threadsPerTrial: number },
  run: {
    attempt: number;
    runDir: string;
    resume: boolean;
    slot: number;
    signal: AbortSignal;
    log: typeof logger;
    recording: { recorder: TrialRecorder | null };
    onEpoch: (report: EpochReport) => void;
  },
): Promise<TrialOutcome> {
  const recorder = await startRecorder(input, options, run);
  run.recording.recorder = recorder;

  const summary = await runTrainingProcess(input, options, run);
  await recorder?.finish({ ...summary, runDir: run.runDir });
  return toOutcome(summary, run.attempt, run.runDir);
}

/**
 * The trial's MLflow recorder, or null when its sweep is not tracked. The attempt recorded is
 * the trial's overall attempt (earlier runs of the trial, before a resume, included).
 *
 * @throws TrackingNotConfiguredError (retryable) when the sweep is tracked and this worker
 *   has no MLflow client.
 * @throws TrackingError when MLflow cannot be reached (retryable) or refuses the run.
 */
async function startRecorder(
  input: TrialActivityInput,
  options: TrialActivityOptions,
  run: { attempt: number; slot: number; log: typeof logger },
): Promise<TrialRecorder | null> {
  if (input.tracking === undefined) return null;

  const client = options.tracking ?? null;
  if (client === null) {
    throw new TrackingNotConfiguredError(input.sweepId, options.workerHost ?? hostname());
  }

  const gpus = options.gpus ?? [];
  const gpu = gpus.length > 0 ? gpus[run.slot % gpus.length] : undefined;
  return await TrialRecorder.start({
    client,
    experimentId: input.tracking.experimentId,
    parentRunId: input.tracking.parentRunId,
    sweepId: input.sweepId,
    trial: {
      id: input.trialId,
      index: input.trialIndex,
      name: input.trialName,
      config: input.config,
    },
    attempt: input.priorAttempts + run.attempt,
    workerHost: options.workerHost ?? hostname(),
    backend: 'tensorflow',
    device: gpu === undefined ? 'cpu' : `gpu:${Number(gpu)}`,
    logger: run.log,
  });
}

/**
 * Ends the trial's run as the attempt ended: KILLED when cancelled, FAILED when it failed.
 * A trial handed back (worker shutting down) keeps its run RUNNING for the next attempt;
 * only its queued epochs are delivered. Never throws.
 */
async function endRecorder(
  recorder: TrialRecorder | null,
  outcome: TrialOutcomeLabel,
  error: unknown,
  attempt: number,
): Promise<void> {
  if (recorder === null) return;

  if (outcome === 'cancelled') {
    await recorder.cancel();
  } else if (outcome === 'handed_back') {
    await recorder.flush(10_000).catch(() => undefined);
  } else {
    await recorder.fail(error, attempt);
  }
}

async function runTrainingProcess(
  input: TrialActivityInput,
  options: TrialActivityOptions & { threadsPerTrial: number },
  run: {
    runDir: string;
    resume: boolean;
    slot: number;
    signal: AbortSignal;
    onEpoch: (report: EpochReport) => void;
  },
): Promise<TrialSummary> {
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

  return await runTrialProcess({
    trialId: input.trialId,
    input: { config: input.config, runDir: run.runDir, resume: run.resume, threads },
    env,
    signal: run.signal,
    ...(options.killGraceMs === undefined ? {} : { killGraceMs: options.killGraceMs }),
    ...(options.entryScript === undefined ? {} : { entryScript: options.entryScript }),
    onEpoch: run.onEpoch,
  });
}

function toOutcome(summary: TrialSummary, attempt: number, runDir: string): TrialOutcome {
  return {
    epochsRun: summary.epochsRun,
    bestEpoch: summary.bestEpoch,
    bestValAccuracy: finiteOrNull(summary.bestValAccuracy),
    testAccuracy: finiteOrNull(summary.testAccuracy),
    testLoss: finiteOrNull(summary.testLoss),
    stoppedEarly: summary.stoppedEarly,
    durationMs: summary.durationMs,
    attempt,
    runDir,
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
      log.info({ epoch: progress.epoch }, 'trial handed back: worker shutting down');
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
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_');
  // `.` and `..` are safe characters but name this folder and its parent.
  return safe === '.' || safe === '..' ? safe.replace(/\./g, '_') : safe;
}

/**
 * A tracked sweep's trial reached a worker without an MLflow server. Retryable: another
 * worker, or this one once configured, can run it.
 */
export class TrackingNotConfiguredError extends SweepError {
  constructor(sweepId: string, workerHost: string) {
    super(
      `sweep ${sweepId} records its trials in MLflow, but worker ${workerHost} has no MLflow ` +
        'server configured',
      {
        code: 'TRACKING_NOT_CONFIGURED',
        retryable: true,
        hint:
          'Start the worker with --tracking-uri (or MLFLOW_TRACKING_URI) pointing at the ' +
          'server the sweep was started with.',
      },
    );
  }
}

/** Hands out slot numbers 0..count-1 so each running trial gets its own GPU and share. */
class SlotPool {
  private readonly free: number[];
  /** Slots in all. */
  readonly size: number;

  constructor(count: number) {
    this.size = count;
    this.free = Array.from({ length: count }, (_, index) => index);
  }

  /** Slots running a trial now. */
  get busy(): number {
    return this.size - this.free.length;
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
