/**
 * The chunk workflow: runs a slice of a sweep's trials (at most {@link DEFAULT_CHUNK_SIZE}) as
 * activities, never more than its slot budget at once. Chunks keep every history small: a
 * chunk of 100 trials writes about 700 events, and the parent only a dozen per chunk.
 */
import {
  ActivityCancellationType,
  type ActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';

import {
  cancelChunkSignal,
  chunkStatusQuery,
  resumeChunkSignal,
  setChunkSlotsSignal,
} from './messages.js';
import { trialActivityId } from './status.js';
import { expandConfig } from './trials.js';
import type {
  ChunkInput,
  ChunkResult,
  CompactTrial,
  TrialActivities,
  TrialFailureDetails,
  TrialOutcome,
  TrialStatus,
} from './types.js';

/** Longest a single trial attempt may run before Temporal times it out. */
const TRIAL_START_TO_CLOSE = '72h';

/**
 * Runs the chunk's trials with at most `input.slots` at once and returns one row per trial.
 *
 * Signals change the slot budget, cancel (queued trials end `cancelled` at once; running ones
 * once their activity confirms, within one heartbeat) and resume (failed and cancelled trials
 * run again). Never throws for a failed trial: failures are rows.
 */
export async function trialChunkWorkflow(input: ChunkInput): Promise<ChunkResult> {
  const activityOptions: ActivityOptions = {
    taskQueue: input.taskQueue,
    startToCloseTimeout: TRIAL_START_TO_CLOSE,
    heartbeatTimeout: `${input.heartbeatTimeoutSeconds}s`,
    // Wait until the trial's process is really gone, so a cancelled trial never overlaps
    // with the next one and the concurrency limit holds.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts: input.retry.maximumAttempts,
      initialInterval: `${input.retry.initialIntervalSeconds}s`,
      backoffCoefficient: 2,
    },
  };

  const rows = new Map<string, TrialStatus>();
  for (const trial of input.trials) {
    rows.set(trial.id, queuedRow(trial, input.priorAttempts[trial.id] ?? 0));
  }

  const queue: CompactTrial[] = [...input.trials];
  const running = new Map<string, CancellationScope>();
  const launches = new Map<string, number>();
  // Trials whose cancel is in flight when a resume arrives: queue them once they stop.
  const requeueWhenStopped = new Set<string>();
  let slots = input.slots;
  let cancelled = false;

  setHandler(chunkStatusQuery, () => ({ chunkSeq: input.chunkSeq, trials: [...rows.values()] }));

  setHandler(setChunkSlotsSignal, (count) => {
    slots = Math.max(1, Math.floor(count));
  });

  const cancelAll = (): void => {
    cancelled = true;
    requeueWhenStopped.clear();

    for (const trial of queue.splice(0)) {
      markCancelled(mustGet(rows, trial.id), 'cancelled before it started');
    }

    for (const scope of running.values()) scope.cancel();
  };

  setHandler(cancelChunkSignal, cancelAll);

  setHandler(resumeChunkSignal, () => {
    cancelled = false;

    for (const trial of input.trials) {
      const row = mustGet(rows, trial.id);
      if (running.has(trial.id)) {
        requeueWhenStopped.add(trial.id);
      } else if (row.state === 'failed' || row.state === 'cancelled') {
        requeue(row, trial);
      }
    }
  });

  const requeue = (row: TrialStatus, trial: CompactTrial): void => {
    row.state = 'queued';
    row.error = null;
    queue.push(trial);
    queue.sort((a, b) => a.index - b.index);
  };

  const start = (trial: CompactTrial): void => {
    const row = mustGet(rows, trial.id);
    const priorAttempts = row.attempts;
    const startedAtMs = Date.now();
    row.state = 'running';
    row.error = null;

    const scope = new CancellationScope();
    running.set(trial.id, scope);

    const activityInput = {
      sweepId: input.sweepId,
      trialId: trial.id,
      trialIndex: trial.index,
      trialName: trial.name,
      config: expandConfig(input.baseConfig, trial.patch),
      priorAttempts,
      failFirstAttempt: input.failTrials.includes(trial.index),
      // Only when set, so the inputs of untracked sweeps stay as they were.
      ...(input.tracking === undefined ? {} : { tracking: input.tracking }),
    };

    const launch = (launches.get(trial.id) ?? 0) + 1;
    launches.set(trial.id, launch);
    const { runTrial } = proxyActivities<TrialActivities>({
      ...activityOptions,
      activityId: trialActivityId(trial.id, launch),
    });

    scope
      .run(() => runTrial(activityInput))
      .then(
        (outcome) => recordDone(row, priorAttempts, outcome),
        (error: unknown) => recordFailure(row, priorAttempts, startedAtMs, error, input),
      )
      .finally(() => {
        running.delete(trial.id);
        if (requeueWhenStopped.delete(trial.id) && row.state !== 'done') requeue(row, trial);
      });
  };

  const canLaunch = (): boolean => !cancelled && running.size < slots && queue.length > 0;
  const finished = (): boolean => queue.length === 0 && running.size === 0;

  try {
    for (;;) {
      while (canLaunch()) {
        const next = queue.shift();
        if (next !== undefined) start(next);
      }

      if (finished()) break;
      await condition(() => canLaunch() || finished());
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;

    // This chunk workflow itself was cancelled (e.g. from the Temporal UI): stop its trials
    // as a cancel signal would, and still return the rows.
    await CancellationScope.nonCancellable(async () => {
      cancelAll();
      await condition(() => running.size === 0);
    });
  }

  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  return { chunkSeq: input.chunkSeq, trials: [...rows.values()] };
}

function queuedRow(trial: CompactTrial, attempts: number): TrialStatus {
  return {
    id: trial.id,
    index: trial.index,
    state: 'queued',
    epoch: 0,
    bestValAccuracy: null,
    testAccuracy: null,
    attempts,
    durationMs: 0,
    error: null,
  };
}

function recordDone(row: TrialStatus, priorAttempts: number, outcome: TrialOutcome): void {
  row.state = 'done';
  row.epoch = outcome.epochsRun;
  row.bestValAccuracy = outcome.bestValAccuracy;
  row.testAccuracy = outcome.testAccuracy;
  row.attempts = priorAttempts + outcome.attempt;
  row.durationMs = outcome.durationMs;
  row.error = null;
}

function recordFailure(
  row: TrialStatus,
  priorAttempts: number,
  startedAtMs: number,
  error: unknown,
  input: ChunkInput,
): void {
  row.durationMs = Date.now() - startedAtMs;

  const details = failureDetails(error);
  if (details !== undefined) {
    row.epoch = Math.max(row.epoch, details.progress.epoch);
    row.bestValAccuracy = details.progress.bestValAccuracy ?? row.bestValAccuracy;
  }

  if (isCancellation(error)) {
    row.attempts = priorAttempts + 1;
    markCancelled(row, 'cancelled while running');
    return;
  }

  row.state = 'failed';
  row.attempts = priorAttempts + attemptsUsed(error, details, input.retry.maximumAttempts);
  row.error = describeFailure(error);
}

function markCancelled(row: TrialStatus, reason: string): void {
  row.state = 'cancelled';
  row.error = reason;
}

function failureDetails(error: unknown): TrialFailureDetails | undefined {
  if (!(error instanceof ActivityFailure)) return undefined;

  const cause = error.cause;
  if (cause instanceof ApplicationFailure) {
    const first = cause.details?.[0] as TrialFailureDetails | undefined;
    return first !== undefined && typeof first.attempt === 'number' ? first : undefined;
  }

  if (cause instanceof TimeoutFailure) {
    const progress = cause.lastHeartbeatDetails as TrialFailureDetails['progress'] | undefined;
    if (progress !== undefined && typeof progress.epoch === 'number') {
      return { attempt: 0, code: 'TRIAL_TIMED_OUT', progress };
    }
  }
  return undefined;
}

function attemptsUsed(
  error: unknown,
  details: TrialFailureDetails | undefined,
  maximumAttempts: number,
): number {
  if (details !== undefined && details.attempt > 0) return details.attempt;

  const exhausted =
    error instanceof ActivityFailure && error.retryState === 'MAXIMUM_ATTEMPTS_REACHED';
  return exhausted ? maximumAttempts : 1;
}

/** One line a user can act on: the activity's own message, or what timed out. */
function describeFailure(error: unknown): string {
  if (error instanceof ActivityFailure) {
    const cause = error.cause;

    if (cause instanceof ApplicationFailure) {
      return cause.type === null || cause.type === undefined
        ? cause.message
        : `${cause.type}: ${cause.message}`;
    }

    if (cause instanceof TimeoutFailure) {
      return `trial timed out (${cause.timeoutType ?? 'unknown'}); its worker stopped answering`;
    }

    if (cause !== undefined) return cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function mustGet<K, V>(map: Map<K, V>, key: K): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no row for trial ${String(key)}`);
  return value;
}
