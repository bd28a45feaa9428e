/**
 * The sweep workflow: one per sweep, workflow id = sweep id. It splits the trials into chunk
 * child workflows (see `chunk.ts`) and shares the concurrency budget among the running
 * chunks, so no more than `concurrency` trials ever run at once, and thousands of trials stay
 * far inside Temporal's history and pending-activity limits.
 *
 * Note: the parent writes about a dozen history events per chunk (5,000 trials = 50 chunks,
 * under 1,000 events), so it never needs continue-as-new.
 */
import {
  CancellationScope,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';

import { trialChunkWorkflow } from './chunk.js';
import {
  cancelChunkSignal,
  cancelSweepUpdate,
  resumeChunkSignal,
  resumeSweepUpdate,
  setChunkSlotsSignal,
  sweepStatusQuery,
} from './messages.js';
import { countStates, withTrialInfo } from './status.js';
import type {
  ChunkResult,
  ChunkView,
  CompactTrial,
  ControlResult,
  FinishSweepRunInput,
  SweepActivities,
  SweepInput,
  SweepResult,
  SweepTrackingRef,
  TrialStatus,
  TrialStatusRow,
} from './types.js';

/** The chunk workflow id for a sweep and chunk sequence number. */
export function chunkWorkflowId(sweepId: string, seq: number): string {
  return `${sweepId}/chunk-${seq}`;
}

interface ChunkRecord {
  seq: number;
  workflowId: string;
  indices: number[];
  slots: number;
  state: 'running' | 'finished';
  started: Promise<ChildWorkflowHandle<typeof trialChunkWorkflow>>;
  /** A resume reached the parent but the chunk had already closed: re-queue on merge. */
  resumeMissed: boolean;
}

/**
 * Runs every trial of the sweep and returns the final status table (all rows terminal). A
 * tracked sweep (`input.tracking`) then ends its MLflow parent run: FINISHED when every trial
 * is done, KILLED when the sweep was cancelled, FAILED otherwise.
 *
 * Handles the `sweepStatus` query and the `cancelSweep` / `resumeSweep` updates. A
 * Temporal-level cancel of this workflow (e.g. from the UI) acts like `cancelSweep`.
 */
export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const trials = new Map<number, CompactTrial>(input.trials.map((t) => [t.index, t]));
  const rows = initialRows(input);
  const pending: number[] = rows.filter((row) => row.state === 'queued').map((row) => row.index);
  const chunks: ChunkRecord[] = [];
  let nextSeq = input.nextChunkSeq ?? 0;
  let cancelRequested = false;
  let version = 0;

  const runningChunks = (): ChunkRecord[] => chunks.filter((c) => c.state === 'running');
  const usedSlots = (): number => runningChunks().reduce((sum, c) => sum + c.slots, 0);
  const rowAt = (index: number): TrialStatus => {
    const row = rows[index];
    if (row === undefined) throw new Error(`no row for trial index ${index}`);
    return row;
  };

  setHandler(sweepStatusQuery, () => ({
    sweepId: input.sweepId,
    concurrency: input.concurrency,
    cancelRequested,
    trials: withTrialInfo(rows, trials),
    chunks: chunks.map(chunkView),
  }));

  const cancelSweep = (): ControlResult => {
    cancelRequested = true;

    let changed = 0;
    for (const index of pending.splice(0)) {
      const row = rowAt(index);
      row.state = 'cancelled';
      row.error = 'cancelled before it started';
      changed += 1;
    }

    const targets = runningChunks();
    for (const chunk of targets) {
      void chunk.started.then((handle) => handle.signal(cancelChunkSignal)).catch(() => {
        // The chunk closed before the signal landed; its own rows are final already.
      });
    }

    version += 1;
    return { trials: changed, chunks: targets.length };
  };

  const requeueRows = (indices: number[]): number => {
    let changed = 0;
    for (const index of indices) {
      const row = rowAt(index);
      if (row.state !== 'failed' && row.state !== 'cancelled') continue;
      row.state = 'queued';
      row.error = null;
      pending.push(index);
      changed += 1;
    }
    pending.sort((a, b) => a - b);
    return changed;
  };

  const resumeSweep = (): ControlResult => {
    cancelRequested = false;

    const inRunningChunk = new Set(runningChunks().flatMap((c) => c.indices));
    const idle = rows.map((row) => row.index).filter((index) => !inRunningChunk.has(index));
    const changed = requeueRows(idle);

    const targets = runningChunks();
    for (const chunk of targets) {
      void chunk.started
        .then((handle) => handle.signal(resumeChunkSignal))
        .catch(() => {
          chunk.resumeMissed = true;
          if (chunk.state === 'finished') requeueRows(chunk.indices);
          version += 1;
        });
    }

    version += 1;
    return { trials: changed, chunks: targets.length };
  };

  setHandler(cancelSweepUpdate, cancelSweep);
  setHandler(resumeSweepUpdate, resumeSweep);

  const mergeChunk = (chunk: ChunkRecord, result: ChunkResult): void => {
    for (const row of result.trials) rows[row.index] = row;
    if (chunk.resumeMissed) requeueRows(chunk.indices);
  };

  const failChunk = (chunk: ChunkRecord, error: unknown): void => {
    const reason = error instanceof ChildWorkflowFailure && error.cause !== undefined
      ? error.cause.message
      : error instanceof Error ? error.message : String(error);

    for (const index of chunk.indices) {
      const row = rowAt(index);
      if (row.state === 'done') continue;
      row.state = isCancellation(error) ? 'cancelled' : 'failed';
      row.error = `chunk workflow ${chunk.workflowId} ended early: ${reason}`;
    }
  };

  const startChunk = (indices: number[], slots: number): void => {
    const seq = nextSeq;
    nextSeq += 1;

    const workflowId = chunkWorkflowId(input.sweepId, seq);
    const chunkTrials = indices.map((index) => mustGet(trials, index));
    const priorAttempts: Record<string, number> = {};
    for (const trial of chunkTrials) priorAttempts[trial.id] = rowAt(trial.index).attempts;

    // Not cancellable from here: a cancel reaches chunks as a signal, so they can stop their
    // trials cleanly and still report their rows.
    const started = CancellationScope.nonCancellable(() =>
      startChild(trialChunkWorkflow, {
        workflowId,
        taskQueue: input.taskQueue,
        args: [
          {
            sweepId: input.sweepId,
            chunkSeq: seq,
            baseConfig: input.baseConfig,
            trials: chunkTrials,
            priorAttempts,
            slots,
            taskQueue: input.taskQueue,
            retry: input.retry,
            failTrials: input.failTrials,
            heartbeatTimeoutSeconds: input.heartbeatTimeoutSeconds,
            ...(input.tracking === undefined
              ? {}
              : {
                  tracking: {
                    experimentId: input.tracking.experimentId,
                    parentRunId: input.tracking.parentRunId,
                  },
                }),
          },
        ],
      }),
    );

    const chunk: ChunkRecord = {
      seq,
      workflowId,
      indices,
      slots,
      state: 'running',
      started,
      resumeMissed: false,
    };
    chunks.push(chunk);

    started
      .then((handle) => CancellationScope.nonCancellable(() => handle.result()))
      .then(
        (result) => mergeChunk(chunk, result),
        (error: unknown) => failChunk(chunk, error),
      )
      .finally(() => {
        chunk.state = 'finished';
        version += 1;
      });
  };

  const startChunks = (): void => {
    while (!cancelRequested && pending.length > 0) {
      const free = input.concurrency - usedSlots();
      if (free <= 0) return;

      // Share the budget among the chunks that can run now, so a large budget starts many
      // chunks rather than one chunk with every slot.
      const chunksLeft = Math.ceil(pending.length / input.chunkSize);
      const active = Math.min(input.concurrency, runningChunks().length + chunksLeft);
      const share = Math.max(1, Math.floor(input.concurrency / active));

      const indices = pending.splice(0, input.chunkSize);
      startChunk(indices, Math.min(free, share, indices.length));
    }
  };

  // Once nothing waits for a chunk, hand free slots to running chunks that have room.
  const rebalance = (): void => {
    if (pending.length > 0 || cancelRequested) return;

    let free = input.concurrency - usedSlots();
    const grown = new Set<ChunkRecord>();

    while (free > 0) {
      const candidates = runningChunks().filter((c) => c.slots < c.indices.length);
      if (candidates.length === 0) break;

      const smallest = candidates.reduce((a, b) => (b.slots < a.slots ? b : a));
      smallest.slots += 1;
      grown.add(smallest);
      free -= 1;
    }

    for (const chunk of grown) {
      void chunk.started
        .then((handle) => handle.signal(setChunkSlotsSignal, chunk.slots))
        .catch(() => undefined);
    }
  };

  const idle = (): boolean => pending.length === 0 && runningChunks().length === 0;

  // A resumed run of a tracked sweep: its MLflow parent run was ended by the earlier run.
  const tracking = input.tracking;
  const reopened =
    tracking !== undefined && input.previous !== undefined
      ? CancellationScope.nonCancellable(() => reopenTracking(tracking, input.taskQueue))
      : Promise.resolve();

  try {
    for (;;) {
      startChunks();
      rebalance();

      if (idle() && allHandlersFinished()) break;

      const seen = version;
      await condition(() => version !== seen || (idle() && allHandlersFinished()));
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;

    await CancellationScope.nonCancellable(async () => {
      cancelSweep();
      await condition(() => runningChunks().length === 0);
    });
  }

  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));

  const finalRows = withTrialInfo(rows, trials);
  const counts = countStates(rows);
  if (tracking !== undefined) {
    await reopened;
    const status = cancelRequested
      ? 'KILLED'
      : counts.failed + counts.cancelled > 0
        ? 'FAILED'
        : 'FINISHED';
    await CancellationScope.nonCancellable(() =>
      finishTracking(tracking, input.taskQueue, finalRows, status),
    );
  }

  return {
    sweepId: input.sweepId,
    trials: finalRows,
    counts,
    nextChunkSeq: nextSeq,
  };
}

/** The sweep-level activities, on a worker of the sweep's task queue. */
function sweepActivities(taskQueue: string, activityId: string): SweepActivities {
  return proxyActivities<SweepActivities>({
    taskQueue,
    activityId,
    // Uploads the leaderboard, draws the figure and registers the best model: seconds, but
    // MLflow may be restarting.
    startToCloseTimeout: '30m',
    retry: { maximumAttempts: 5, initialInterval: '5s', backoffCoefficient: 2 },
  });
}

/** Sets the parent run back to RUNNING; MLflow being down is logged, not fatal. */
async function reopenTracking(tracking: SweepTrackingRef, taskQueue: string): Promise<void> {
  try {
    await sweepActivities(taskQueue, 'reopen-sweep-run').reopenSweepRun(tracking);
  } catch (error) {
    log.warn('mlflow sweep run not reopened', {
      sweepId: tracking.sweepId,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Ends the sweep's MLflow parent run through the `finishSweepRun` activity, on a worker of
 * the sweep's task queue (so it works with `--detach` and remote workers alike). MLflow being
 * down does not fail the sweep: after the retries the problem is logged and the trials'
 * results stand; `sweep resume` finishes the parent run again when it ends.
 */
async function finishTracking(
  tracking: SweepTrackingRef,
  taskQueue: string,
  rows: TrialStatusRow[],
  status: FinishSweepRunInput['status'],
): Promise<void> {
  const trials = rows.map((row) => ({
    id: row.id,
    name: row.name,
    values: row.values,
    state: row.state,
    epoch: row.epoch,
    bestValAccuracy: row.bestValAccuracy,
    testAccuracy: row.testAccuracy,
  }));

  try {
    const { finishSweepRun } = sweepActivities(taskQueue, 'finish-sweep-run');
    const result = await finishSweepRun({ tracking, trials, status });
    log.info('mlflow sweep run finished', {
      sweepId: tracking.sweepId,
      bestTrialId: result.bestTrialId,
      modelVersion: result.modelVersion,
    });
  } catch (error) {
    log.warn('mlflow sweep run not finished', {
      sweepId: tracking.sweepId,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

function initialRows(input: SweepInput): TrialStatus[] {
  const previous = new Map((input.previous ?? []).map((row) => [row.id, row]));
  const rows: TrialStatus[] = [];

  for (const trial of input.trials) {
    const earlier = previous.get(trial.id);
    if (earlier !== undefined && earlier.state === 'done') {
      rows[trial.index] = { ...earlier, index: trial.index };
      continue;
    }

    rows[trial.index] = {
      id: trial.id,
      index: trial.index,
      state: 'queued',
      epoch: earlier?.epoch ?? 0,
      bestValAccuracy: earlier?.bestValAccuracy ?? null,
      testAccuracy: null,
      attempts: earlier?.attempts ?? 0,
      durationMs: 0,
      error: null,
    };
  }
  return rows;
}

function chunkView(chunk: ChunkRecord): ChunkView {
  return {
    seq: chunk.seq,
    workflowId: chunk.workflowId,
    indices: chunk.indices,
    slots: chunk.slots,
    state: chunk.state,
  };
}

function mustGet<K, V>(map: Map<K, V>, key: K): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no trial at ${String(key)}`);
  return value;
}
