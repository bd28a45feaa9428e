/**
 * What the CLI does with sweeps on Temporal: start (or attach), read the merged status table,
 * cancel, resume, list. Every function takes a connected client; none starts a worker.
 */
import {
  WorkflowNotFoundError,
  defaultPayloadConverter,
  type Client,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';

import { ConfigError, SweepError } from '../lib/errors.js';
import type { LoadedSpec } from '../spec/load.js';
import type { SweepPlan } from '../spec/plan.js';
import type { SweepSpec, TrialTestKnobs } from '../spec/schema.js';
import { logger } from '../lib/logger.js';
import {
  cancelSweepUpdate,
  chunkStatusQuery,
  resumeSweepUpdate,
  sweepStatusQuery,
} from '../workflows/messages.js';
import { trialIdOfActivity } from '../workflows/status.js';
import { compactTrials } from '../workflows/trials.js';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
  type ControlResult,
  type StateCounts,
  type SweepInput,
  type SweepRequest,
  type SweepResult,
  type SweepSnapshot,
  type TrialProgress,
  type TrialState,
  type TrialStatusRow,
} from '../workflows/types.js';
import type { sweepWorkflow } from '../workflows/sweep.js';
import { SweepNotFoundError } from './errors.js';

/** Workflow type name of sweeps, as `sweep list` filters on it. */
export const SWEEP_WORKFLOW_TYPE = 'sweepWorkflow';

/**
 * Largest workflow input we send, in bytes of JSON. Temporal rejects payloads over 2 MB;
 * the margin covers encoding overhead.
 */
const MAX_INPUT_BYTES = 1_800_000;

/** Longest wait for a query or update answer, in milliseconds. */
const CALL_DEADLINE_MS = 15_000;

/** Facts about a sweep stored with its workflow (shown by `sweep list`). */
export interface SweepMemo {
  name: string;
  specFile: string;
  specHash: string;
  total: number;
  axes: string[];
  /** The sweep's parent run in the MLflow UI; absent for sweeps started without tracking. */
  mlflowRunUrl?: string;
}

/** How {@link startSweep} went. */
export interface StartSweepResult {
  sweepId: string;
  /** `started`: a new workflow; `attached`: it was already running; `closed`: it finished. */
  outcome: 'started' | 'attached' | 'closed';
  status: WorkflowExecutionStatusName;
}

/**
 * Where a trial stands as the CLI shows it: the workflow's own states, plus `waiting` for a
 * trial the workflow has handed to Temporal whose activity no worker has started yet (the
 * workflow itself counts it as `running`).
 */
export type TrialViewState = TrialState | 'waiting';

/**
 * Why a `waiting` trial has not started: `worker`, its first attempt waits for a free worker
 * slot; `retry`, a later attempt waits out its retry backoff or for a free slot; `paused`,
 * its activity was paused in Temporal.
 */
export type WaitingFor = 'worker' | 'retry' | 'paused';

/** One row of the merged status table. */
export interface TrialViewRow extends Omit<TrialStatusRow, 'state'> {
  state: TrialViewState;
  /** Only on `waiting` rows: why the trial has not started. */
  waitingFor?: WaitingFor;
}

/** Trial counts by shown state; every state is present, zero when no row has it. */
export type ViewCounts = StateCounts & { waiting: number };

/** The merged status table of a sweep. */
export interface SweepStatusView {
  sweepId: string;
  /** The sweep workflow's Temporal status (`COMPLETED` also when trials failed). */
  status: WorkflowExecutionStatusName;
  taskQueue: string;
  startTime: Date;
  closeTime: Date | null;
  memo: Partial<SweepMemo>;
  /** Most trials the sweep runs at once (`execution.concurrency`); null when unreadable. */
  concurrency: number | null;
  cancelRequested: boolean;
  trials: TrialViewRow[];
  counts: ViewCounts;
}

/** Counts rows by shown state, `waiting` included. */
export function countViewStates(rows: readonly TrialViewRow[]): ViewCounts {
  const counts: ViewCounts = {
    queued: 0,
    waiting: 0,
    running: 0,
    done: 0,
    failed: 0,
    cancelled: 0,
  };
  for (const row of rows) counts[row.state] += 1;
  return counts;
}

/**
 * The start request and memo for a planned spec: concurrency, queue, retry and heartbeat
 * timeout from `execution`; the test-only knobs of `execution.testOnly` go into the configs
 * of the trials they name (see {@link trialTestKnobs}).
 */
export function sweepRequestFromPlan(
  loaded: LoadedSpec,
  plan: SweepPlan,
): { request: SweepRequest; memo: SweepMemo } {
  const { execution } = loaded.spec;

  const request: SweepRequest = {
    sweepId: plan.sweepId,
    specHash: loaded.hash,
    trials: plan.trials.map(({ id, index, name, values, config }) => {
      const testOnly = trialTestKnobs(execution, index);
      return {
        id,
        index,
        name,
        values,
        config: testOnly === undefined ? config : { ...config, testOnly },
      };
    }),
    concurrency: execution.concurrency,
    taskQueue: execution.taskQueue,
    retry: execution.retry,
    failTrials: execution.testOnly?.failTrials ?? [],
    heartbeatTimeoutSeconds: execution.heartbeatTimeoutSeconds,
  };

  const memo: SweepMemo = {
    name: loaded.spec.name,
    specFile: loaded.file,
    specHash: loaded.hash,
    total: plan.total,
    axes: plan.axes,
  };
  return { request, memo };
}

/**
 * The test-only knobs `execution.testOnly` sets for trial `index`, or undefined when it sets
 * none (always, in real sweeps). Only trial configs carry them to the trainer.
 */
export function trialTestKnobs(
  execution: SweepSpec['execution'],
  index: number,
): TrialTestKnobs | undefined {
  const testOnly = execution.testOnly;
  if (testOnly === undefined) return undefined;

  const knobs: TrialTestKnobs = {};
  const crash = testOnly.crashTrials.find((entry) => entry.index === index);
  if (crash !== undefined) knobs.crash = { how: crash.how, afterEpoch: crash.afterEpoch };
  if (testOnly.slowBatchMs > 0) knobs.slowBatchMs = testOnly.slowBatchMs;

  return Object.keys(knobs).length === 0 ? undefined : knobs;
}

/**
 * Whether any worker polled the task queue for trials lately (Temporal keeps pollers seen
 * in the last minute). Used to warn when a sweep on a cluster has nobody to run it.
 */
export async function hasTrialWorkers(client: Client, taskQueue: string): Promise<boolean> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
  });
  return (response.pollers ?? []).length > 0;
}

/**
 * Checks a request and turns it into the workflow input (trial configs as patches).
 *
 * @throws ConfigError for concurrency below 1, trial indices that are not 0..n-1, repeated
 *   trial ids, or an input too large for one Temporal payload.
 */
export function toSweepInput(request: SweepRequest): SweepInput {
  const problems: string[] = [];

  if (!Number.isInteger(request.concurrency) || request.concurrency < 1) {
    problems.push(`concurrency must be a whole number of at least 1, got ${request.concurrency}`);
  }
  const chunkSize = request.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    problems.push(`chunk size must be a whole number of at least 1, got ${chunkSize}`);
  }

  const ids = new Set<string>();
  request.trials.forEach((trial, position) => {
    if (trial.index !== position) {
      problems.push(`trial ${trial.id} has index ${trial.index}, expected ${position}`);
    }
    if (ids.has(trial.id)) problems.push(`trial id ${trial.id} appears twice`);
    ids.add(trial.id);
  });

  if (problems.length > 0) {
    throw new ConfigError(`cannot start sweep ${request.sweepId}:\n  ${problems.join('\n  ')}`);
  }

  const { baseConfig, trials } = compactTrials(request.trials);
  const input: SweepInput = {
    sweepId: request.sweepId,
    specHash: request.specHash,
    baseConfig,
    trials,
    concurrency: request.concurrency,
    taskQueue: request.taskQueue,
    retry: request.retry,
    failTrials: request.failTrials ?? [],
    chunkSize,
    heartbeatTimeoutSeconds: request.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_TIMEOUT_SECONDS,
    ...(request.tracking === undefined || request.tracking === null
      ? {}
      : { tracking: request.tracking }),
  };

  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_INPUT_BYTES) {
    throw new ConfigError(
      `sweep ${request.sweepId} is too large for one Temporal payload: ${bytes} bytes ` +
        `for ${request.trials.length} trials (limit ${MAX_INPUT_BYTES})`,
      { hint: 'Split the grid into several specs, or use random search with a smaller count.' },
    );
  }
  return input;
}

/**
 * Starts the sweep's workflow (id = sweep id), or attaches when it is already running.
 * A finished sweep is left alone (`outcome: 'closed'`); `resumeSweep` runs it again.
 *
 * @throws ConfigError as {@link toSweepInput} does.
 */
export async function startSweep(
  client: Client,
  request: SweepRequest,
  memo: SweepMemo,
): Promise<StartSweepResult> {
  const input = toSweepInput(request);
  const existing = await describeOrNull(client, request.sweepId);

  if (existing !== null && existing.status.name !== 'RUNNING') {
    return { sweepId: request.sweepId, outcome: 'closed', status: existing.status.name };
  }

  await client.workflow.start<typeof sweepWorkflow>(SWEEP_WORKFLOW_TYPE, {
    workflowId: request.sweepId,
    taskQueue: request.taskQueue,
    args: [input],
    memo: { ...memo },
    // Starting the same sweep twice joins the running workflow instead of failing.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
  });

  const outcome = existing === null ? 'started' : 'attached';
  logger.info({ sweepId: request.sweepId, outcome, trials: request.trials.length }, 'sweep start');
  return { sweepId: request.sweepId, outcome, status: 'RUNNING' };
}

/**
 * Reads a sweep's status table. For a running sweep, rows of running chunks come from the
 * chunks themselves, and the epoch and attempt of running trials from their heartbeats; a
 * trial whose activity is scheduled but not started by a worker reads `waiting`. For a
 * closed sweep, the concurrency comes from the start input of its latest run.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 */
export async function readSweepStatus(client: Client, sweepId: string): Promise<SweepStatusView> {
  const handle = client.workflow.getHandle<typeof sweepWorkflow>(sweepId);
  const description = await describeOrThrow(client, sweepId);
  const status = description.status.name;
  const memo = (description.memo ?? {}) as Partial<SweepMemo>;

  let trials: TrialViewRow[];
  let concurrency: number | null = null;
  let cancelRequested = false;

  if (status === 'RUNNING') {
    const snapshot = await withDeadline(client, () => handle.query(sweepStatusQuery));
    trials = await mergeRunningChunks(client, snapshot);
    concurrency = snapshot.concurrency;
    cancelRequested = snapshot.cancelRequested;
  } else {
    trials =
      status === 'COMPLETED'
        ? (await handle.result()).trials
        : await rowsOfUnfinishedRun(client, handle, status);
    concurrency = await concurrencyOfClosedRun(handle);
  }

  return {
    sweepId,
    status,
    taskQueue: description.taskQueue,
    startTime: description.startTime,
    closeTime: description.closeTime ?? null,
    memo,
    concurrency,
    cancelRequested,
    trials,
    counts: countViewStates(trials),
  };
}

/** How {@link cancelSweep} went. */
export interface CancelSweepResult {
  /**
   * Queued trials the cancel ended before they started: those the sweep had not handed to a
   * chunk yet, plus those queued inside running chunks.
   */
  queued: number;
  /** Running chunk workflows told to cancel their trials (running ones stop in a heartbeat). */
  chunks: number;
}

/**
 * Asks a running sweep to cancel every queued and running trial.
 *
 * The sweep's update only counts the trials still in its own queue; trials already handed to
 * a chunk are queued there, and the chunk cancels them when the sweep's signal lands, after
 * the update has answered. So their number is read from the chunks just before the update.
 * Note: a queued trial that starts in between is counted as queued, though it ends
 * `cancelled while running`.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 * @throws SweepClosedError when the sweep has already finished.
 */
export async function cancelSweep(client: Client, sweepId: string): Promise<CancelSweepResult> {
  const description = await describeOrThrow(client, sweepId);
  if (description.status.name !== 'RUNNING') {
    throw new SweepClosedError(sweepId, description.status.name, 'cancel');
  }

  const handle = client.workflow.getHandle<typeof sweepWorkflow>(sweepId);
  const snapshot = await withDeadline(client, () => handle.query(sweepStatusQuery));
  const queuedInChunks = await countQueuedInChunks(client, snapshot);

  const answer = await withDeadline(client, () => handle.executeUpdate(cancelSweepUpdate));
  return { queued: answer.trials + queuedInChunks, chunks: answer.chunks };
}

/** How {@link resumeSweep} went. */
export type ResumeResult =
  | { mode: 'update'; result: ControlResult }
  | { mode: 'restarted'; requeued: number }
  | { mode: 'nothing'; status: WorkflowExecutionStatusName };

/**
 * Runs a sweep's failed and cancelled trials again; done trials are never retrained. A
 * running sweep re-queues them in place; a finished one starts a new run of the same
 * workflow id that carries the finished rows over.
 *
 * @throws SweepNotFoundError when no sweep has this id.
 */
export async function resumeSweep(client: Client, sweepId: string): Promise<ResumeResult> {
  const description = await describeOrThrow(client, sweepId);
  const handle = client.workflow.getHandle<typeof sweepWorkflow>(sweepId);

  if (description.status.name === 'RUNNING') {
    const result = await withDeadline(client, () => handle.executeUpdate(resumeSweepUpdate));
    return { mode: 'update', result };
  }

  const input = await startInput(handle);
  let previous: SweepResult['trials'];
  let nextChunkSeq = input.nextChunkSeq ?? 0;

  if (description.status.name === 'COMPLETED') {
    const result = await handle.result();
    previous = result.trials;
    nextChunkSeq = result.nextChunkSeq;
  } else {
    // Chunks of a run that ended early were closed with it, so their ids can be reused.
    previous = await rowsOfUnfinishedRun(client, handle, description.status.name);
  }

  const requeued = previous.filter((row) => row.state !== 'done').length;
  if (requeued === 0) return { mode: 'nothing', status: description.status.name };

  await client.workflow.start<typeof sweepWorkflow>(SWEEP_WORKFLOW_TYPE, {
    workflowId: sweepId,
    taskQueue: description.taskQueue,
    args: [{ ...input, previous, nextChunkSeq }],
    memo: description.memo ?? {},
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });

  logger.info({ sweepId, requeued }, 'sweep resumed in a new run');
  return { mode: 'restarted', requeued };
}

/** One line of `sweep list`. */
export interface SweepListEntry {
  sweepId: string;
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime: Date | null;
  taskQueue: string;
  memo: Partial<SweepMemo>;
}

/** The namespace's sweeps, newest first, one entry per sweep id (its latest run). */
export async function listSweeps(client: Client, limit = 50): Promise<SweepListEntry[]> {
  const latest = new Map<string, SweepListEntry>();
  const query = `WorkflowType = '${SWEEP_WORKFLOW_TYPE}'`;

  for await (const info of client.workflow.list({ query })) {
    const known = latest.get(info.workflowId);
    if (known !== undefined && known.startTime >= info.startTime) continue;

    latest.set(info.workflowId, {
      sweepId: info.workflowId,
      status: info.status.name,
      startTime: info.startTime,
      closeTime: info.closeTime ?? null,
      taskQueue: info.taskQueue,
      memo: (info.memo ?? {}) as Partial<SweepMemo>,
    });
    if (latest.size >= limit * 2) break;
  }

  return [...latest.values()]
    .sort((a, b) => b.startTime.getTime() - a.startTime.getTime())
    .slice(0, limit);
}

/** The sweep has finished, so it cannot take this request. */
export class SweepClosedError extends SweepError {
  readonly sweepId: string;

  constructor(sweepId: string, status: string, action: string) {
    super(`cannot ${action} sweep ${sweepId}: it has already finished (${status})`, {
      code: 'SWEEP_CLOSED',
      hint: `See its results with: sweep report ${sweepId}`,
    });
    this.sweepId = sweepId;
  }
}

async function mergeRunningChunks(
  client: Client,
  snapshot: SweepSnapshot,
): Promise<TrialViewRow[]> {
  const rows: TrialViewRow[] = snapshot.trials.map((row) => ({ ...row }));
  const byIndex = new Map(rows.map((row) => [row.index, row]));

  const running = snapshot.chunks.filter((chunk) => chunk.state === 'running');
  await Promise.all(
    running.map(async (chunk) => {
      try {
        const handle = client.workflow.getHandle(chunk.workflowId);
        const [live, description] = await Promise.all([
          withDeadline(client, () => handle.query(chunkStatusQuery)),
          handle.describe(),
        ]);

        const chunkRows: TrialViewRow[] = [];
        for (const row of live.trials) {
          const target = byIndex.get(row.index);
          if (target === undefined) continue;
          Object.assign(target, row);
          chunkRows.push(target);
        }
        applyPendingActivities(chunkRows, description.raw.pendingActivities ?? []);
      } catch (error) {
        // The chunk may have closed between the two reads; the parent's rows stand.
        logger.debug({ err: error, chunk: chunk.workflowId }, 'chunk status not read');
      }
    }),
  );
  return rows;
}

/** Trials queued inside the sweep's running chunks (a chunk that cannot be read counts 0). */
async function countQueuedInChunks(client: Client, snapshot: SweepSnapshot): Promise<number> {
  const running = snapshot.chunks.filter((chunk) => chunk.state === 'running');

  const counts = await Promise.all(
    running.map(async (chunk) => {
      try {
        const handle = client.workflow.getHandle(chunk.workflowId);
        const live = await withDeadline(client, () => handle.query(chunkStatusQuery));
        return live.trials.filter((row) => row.state === 'queued').length;
      } catch (error) {
        logger.debug({ err: error, chunk: chunk.workflowId }, 'chunk status not read');
        return 0;
      }
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

type Payload = Parameters<typeof defaultPayloadConverter.fromPayload>[0];

/**
 * The `PendingActivityState` values that mean no worker runs the activity, as the raw
 * describe answer carries them (STARTED 2, CANCEL_REQUESTED 3 and PAUSE_REQUESTED 5 do).
 */
const PENDING_ACTIVITY_STATE = { SCHEDULED: 1, PAUSED: 4 };

/** The fields of a chunk's pending activity (from `describe()`) that the status table uses. */
export interface PendingActivity {
  activityId?: string | null;
  /** A `PendingActivityState` value (1 scheduled, 2 started, 3 cancel requested, 4 paused). */
  state?: number | string | null;
  /** The attempt in progress or waiting to start, 1-based, within this run of the trial. */
  attempt?: number | null;
  heartbeatDetails?: { payloads?: Payload[] | null } | null;
}

/**
 * Completes the rows a chunk reports `running` from its pending activities: epoch and best
 * accuracy from the last heartbeat, the attempt in progress, and `waiting` (with why) for an
 * activity that no worker has started. A row whose activity is not listed yet (the chunk
 * reports a trial running as it schedules the activity, a moment before the server records
 * it) reads `waiting` for a worker: no worker can be running it yet.
 */
export function applyPendingActivities(rows: TrialViewRow[], pending: PendingActivity[]): void {
  const byTrial = new Map(pending.map((a) => [trialIdOfActivity(a.activityId ?? ''), a]));

  for (const row of rows) {
    if (row.state !== 'running') continue;

    const activity = byTrial.get(row.id);
    const payload = activity?.heartbeatDetails?.payloads?.[0];
    if (payload !== undefined) {
      const progress = defaultPayloadConverter.fromPayload<TrialProgress>(payload);
      row.epoch = Math.max(row.epoch, progress.epoch ?? 0);
      row.bestValAccuracy = progress.bestValAccuracy ?? row.bestValAccuracy;
    }

    const attempt = activity?.attempt ?? 1;
    const waitingFor = activity === undefined ? 'worker' : whyWaiting(activity.state, attempt);
    if (waitingFor === undefined) {
      // Rows count finished attempts; add the one in progress.
      row.attempts += attempt;
      continue;
    }

    // The waiting attempt has not run yet; the ones before it have.
    row.state = 'waiting';
    row.waitingFor = waitingFor;
    row.attempts += attempt - 1;
  }
}

/** Why an activity in this state is not running on a worker, or undefined when it is. */
function whyWaiting(state: PendingActivity['state'], attempt: number): WaitingFor | undefined {
  const value = typeof state === 'string' ? pendingStateOfName(state) : state;

  if (value === PENDING_ACTIVITY_STATE.PAUSED) return 'paused';
  if (value !== PENDING_ACTIVITY_STATE.SCHEDULED) return undefined;
  return attempt > 1 ? 'retry' : 'worker';
}

/** A state written as its enum name (`PENDING_ACTIVITY_STATE_SCHEDULED`), as a number. */
function pendingStateOfName(name: string): number | undefined {
  const short = name.replace(/^PENDING_ACTIVITY_STATE_/, '');
  return PENDING_ACTIVITY_STATE[short as keyof typeof PENDING_ACTIVITY_STATE];
}

/** Rows for a run that ended without a result (terminated, failed, timed out). */
async function rowsOfUnfinishedRun(
  client: Client,
  handle: WorkflowHandle<typeof sweepWorkflow>,
  status: WorkflowExecutionStatusName,
): Promise<TrialStatusRow[]> {
  try {
    const snapshot = await withDeadline(client, () => handle.query(sweepStatusQuery), 5000);
    return snapshot.trials.map((row) =>
      row.state === 'queued' || row.state === 'running'
        ? { ...row, state: 'cancelled', error: `sweep workflow ended ${status}` }
        : row,
    );
  } catch {
    // No worker answered the query: fall back to the trial list without progress.
    const input = await startInput(handle);
    return input.trials.map((trial) => ({
      id: trial.id,
      index: trial.index,
      name: trial.name,
      values: trial.values,
      state: 'cancelled' as const,
      epoch: 0,
      bestValAccuracy: null,
      testAccuracy: null,
      attempts: 0,
      durationMs: 0,
      error: `sweep workflow ended ${status}`,
    }));
  }
}

/** The concurrency a closed run was started with, or null when its history cannot be read. */
async function concurrencyOfClosedRun(
  handle: WorkflowHandle<typeof sweepWorkflow>,
): Promise<number | null> {
  try {
    return (await startInput(handle)).concurrency;
  } catch (error) {
    logger.debug({ err: error, sweepId: handle.workflowId }, 'sweep start input not read');
    return null;
  }
}

/** The input the workflow's current run was started with (from its first history event). */
async function startInput(handle: WorkflowHandle<typeof sweepWorkflow>): Promise<SweepInput> {
  const history = await handle.fetchHistory();
  const first = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = first?.input?.payloads?.[0];
  if (payload === undefined || payload === null) {
    throw new SweepError(`sweep ${handle.workflowId} has no start input in its history`, {
      code: 'SWEEP_HISTORY_INCOMPLETE',
    });
  }
  return defaultPayloadConverter.fromPayload<SweepInput>(payload as Payload);
}

async function describeOrNull(client: Client, sweepId: string) {
  try {
    return await client.workflow.getHandle(sweepId).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

async function describeOrThrow(client: Client, sweepId: string) {
  const description = await describeOrNull(client, sweepId);
  if (description === null) throw new SweepNotFoundError(sweepId, client.options.namespace);
  return description;
}

function withDeadline<T>(client: Client, fn: () => Promise<T>, ms = CALL_DEADLINE_MS): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, fn);
}
