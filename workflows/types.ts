/**
 * Shapes that cross the workflow boundary: sweep and chunk inputs, the status table, and the
 * activity's input and result. Plain JSON only, so every value survives Temporal's payload
 * converter and replays the same way.
 */
import type { TrialConfig } from '../spec/schema.js';

/** Where one trial stands. `done`, `failed` and `cancelled` are terminal until a resume. */
export type TrialState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Trial states that end a trial (a resume re-queues `failed` and `cancelled` ones). */
export const TERMINAL_STATES: readonly TrialState[] = ['done', 'failed', 'cancelled'];

/** One planned trial as the client hands it over: id, position, grid values and config. */
export interface TrialRef {
  /** Stable trial id, unique within the sweep; also the activity id and the run folder. */
  id: string;
  /** 0-based position in plan order. */
  index: number;
  /** Short human name, e.g. `lr=0.001,attention=all`. */
  name: string;
  /** The grid values this trial applies, keyed by dotted spec path. */
  values: Record<string, unknown>;
  /** The full training config with the values applied. */
  config: TrialConfig;
}

/**
 * One leaf that differs from the sweep's base config: the key path and the value there.
 * `undefined` is never stored; a key missing in the trial is written as `{ deleted: true }`.
 */
export interface ConfigPatchEntry {
  path: string[];
  value?: unknown;
  deleted?: true;
}

/** A trial as it travels inside workflow inputs: the config is a patch on the base config. */
export interface CompactTrial {
  id: string;
  index: number;
  name: string;
  values: Record<string, unknown>;
  patch: ConfigPatchEntry[];
}

/** Retry policy of trial activities, from the spec's `execution.retry`. */
export interface TrialRetry {
  /** Attempts per trial run, the first included (>= 1). */
  maximumAttempts: number;
  /** Wait before the first retry, in seconds; later waits double. */
  initialIntervalSeconds: number;
}

/** Which trial implementation a worker runs; `noop` returns at once without TensorFlow. */
export type TrialKind = 'train' | 'noop';

/** One row of the status table. */
export interface TrialStatus {
  id: string;
  index: number;
  state: TrialState;
  /** Last finished epoch (1-based), 0 before the first. */
  epoch: number;
  /** Best validation accuracy so far in [0, 1], null before the first epoch. */
  bestValAccuracy: number | null;
  /** Test accuracy of the restored best weights, null until the trial is done. */
  testAccuracy: number | null;
  /** Activity attempts used over every run of this trial (resumes included). */
  attempts: number;
  /** Wall time of the last run, in milliseconds; 0 until a run ends. */
  durationMs: number;
  /** Why the trial failed or was cancelled; null otherwise. */
  error: string | null;
}

/** What the client passes to start a sweep (before the trial list is compacted). */
export interface SweepRequest {
  sweepId: string;
  specHash: string;
  trials: TrialRef[];
  /** Most trials running at once across all workers (>= 1). */
  concurrency: number;
  taskQueue: string;
  retry: TrialRetry;
  /** Test-only: trial indices that fail on their first attempt. */
  failTrials?: number[];
  /** Trials per chunk child workflow; default {@link DEFAULT_CHUNK_SIZE}. */
  chunkSize?: number;
  /** Heartbeat timeout of trial activities, in seconds; default 30. */
  heartbeatTimeoutSeconds?: number;
  /** The sweep's MLflow parent run; absent or null records nothing in MLflow. */
  tracking?: SweepTrackingRef | null;
}

/**
 * Where a sweep records in MLflow (the shape of `SweepRecorder.ref`): plain ids, no URL and
 * no credentials; each worker reaches MLflow through its own tracking URI.
 */
export interface SweepTrackingRef {
  experimentId: string;
  /** The sweep's parent run; trial runs nest under it. */
  parentRunId: string;
  sweepId: string;
  /** The spec's name: names the experiment and the registered model. */
  sweepName: string;
}

/** What a trial activity needs to find its MLflow run's place. */
export interface TrialTrackingRef {
  experimentId: string;
  parentRunId: string;
}

/** Trials per chunk child workflow unless the request says otherwise. */
export const DEFAULT_CHUNK_SIZE = 100;

/** Heartbeat timeout of trial activities unless the request says otherwise, in seconds. */
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 30;

/** The sweep workflow's input: the request with trials stored as patches on one base config. */
export interface SweepInput {
  sweepId: string;
  specHash: string;
  baseConfig: TrialConfig;
  trials: CompactTrial[];
  concurrency: number;
  taskQueue: string;
  retry: TrialRetry;
  failTrials: number[];
  chunkSize: number;
  heartbeatTimeoutSeconds: number;
  /**
   * Status rows from an earlier run of this sweep (a resume after the workflow closed, or
   * continue-as-new). `done` rows are kept; every other row is queued again.
   */
  previous?: TrialStatus[];
  /** Next chunk sequence number, so chunk workflow ids never repeat within a sweep. */
  nextChunkSeq?: number;
  /**
   * The sweep's MLflow parent run. When set, trials record their runs under it and the sweep
   * ends it (`finishSweepRun`); absent (sweeps started untracked) records nothing.
   */
  tracking?: SweepTrackingRef;
}

/** Input of one chunk child workflow: a slice of the sweep's trials and a slot budget. */
export interface ChunkInput {
  sweepId: string;
  chunkSeq: number;
  baseConfig: TrialConfig;
  trials: CompactTrial[];
  /** Attempts already used per trial id (resumed trials carry theirs over). */
  priorAttempts: Record<string, number>;
  /** Most trials of this chunk running at once (>= 1); the parent may change it by signal. */
  slots: number;
  taskQueue: string;
  retry: TrialRetry;
  failTrials: number[];
  heartbeatTimeoutSeconds: number;
  /** Passed to each trial activity; absent records nothing. */
  tracking?: TrialTrackingRef;
}

/** A chunk child's final rows, one per trial of the chunk. */
export interface ChunkResult {
  chunkSeq: number;
  trials: TrialStatus[];
}

/** Where a chunk stands, as the sweep's status query reports it. */
export interface ChunkView {
  seq: number;
  workflowId: string;
  /** Trial indices in this chunk. */
  indices: number[];
  slots: number;
  state: 'running' | 'finished';
}

/** Trial counts by state. */
export type StateCounts = Record<TrialState, number>;

/** The sweep workflow's status query answer (rows of running chunks may be stale). */
export interface SweepSnapshot {
  sweepId: string;
  concurrency: number;
  cancelRequested: boolean;
  /** Rows in plan order, with name and values joined in. */
  trials: TrialStatusRow[];
  /** Chunks started by this run of the workflow. */
  chunks: ChunkView[];
}

/** A status row with the trial's name and grid values, as queries and results return it. */
export interface TrialStatusRow extends TrialStatus {
  name: string;
  values: Record<string, unknown>;
}

/** The sweep workflow's result: every row, all terminal. */
export interface SweepResult {
  sweepId: string;
  trials: TrialStatusRow[];
  counts: StateCounts;
  /** Chunk sequence number to continue from if the sweep is resumed. */
  nextChunkSeq: number;
}

/** Answer of the `cancel` and `resume` updates. */
export interface ControlResult {
  /** Trials whose state this call changed in the parent's table. */
  trials: number;
  /** Running chunk workflows that were told to do the same for their own trials. */
  chunks: number;
}

/** Input of the `runTrial` activity. */
export interface TrialActivityInput {
  sweepId: string;
  trialId: string;
  trialIndex: number;
  trialName: string;
  config: TrialConfig;
  /** Attempts used by earlier runs of this trial (before a resume). */
  priorAttempts: number;
  /** Test-only: fail when this is the trial's first attempt overall. */
  failFirstAttempt: boolean;
  /** Record the trial in MLflow under this parent run; absent records nothing. */
  tracking?: TrialTrackingRef;
}

/** Heartbeat details of a running trial; the next attempt reads them to resume. */
export interface TrialProgress {
  /** Last finished epoch (1-based), 0 before the first. */
  epoch: number;
  /** Folder of the checkpoint written after that epoch, or null. */
  checkpointDir: string | null;
  /** Best validation accuracy so far, or null. */
  bestValAccuracy: number | null;
}

/** Result of the `runTrial` activity: a small summary, never histories or data. */
export interface TrialOutcome {
  epochsRun: number;
  bestEpoch: number;
  bestValAccuracy: number | null;
  testAccuracy: number | null;
  testLoss: number | null;
  stoppedEarly: boolean;
  /** Wall time of the successful attempt, in milliseconds. */
  durationMs: number;
  /** The activity attempt that succeeded (1-based, within this run of the trial). */
  attempt: number;
  runDir: string;
}

/** Details attached to a trial's ApplicationFailure so the workflow can count attempts. */
export interface TrialFailureDetails {
  /** The attempt that failed (1-based, within this run of the trial). */
  attempt: number;
  /** Error code, e.g. `TRIAL_DIVERGED`, `TRIAL_PROCESS_CRASHED`. */
  code: string;
  /** Progress reached before the failure. */
  progress: TrialProgress;
}

/** The activities the workflows call; `activities/trial.ts` implements them. */
export interface TrialActivities {
  /** Trains one trial (or, on no-op workers, pretends to) and returns its summary. */
  runTrial(input: TrialActivityInput): Promise<TrialOutcome>;
}

/** One trial as the sweep's MLflow leaderboard needs it (a status row without the rest). */
export interface SweepRunTrial {
  id: string;
  name: string;
  values: Record<string, unknown>;
  state: TrialState;
  epoch: number;
  bestValAccuracy: number | null;
  testAccuracy: number | null;
}

/** Input of the `finishSweepRun` activity. */
export interface FinishSweepRunInput {
  tracking: SweepTrackingRef;
  /** Every trial in plan order. */
  trials: SweepRunTrial[];
  /** FINISHED when every trial is done, KILLED when cancelled, else FAILED. */
  status: 'FINISHED' | 'FAILED' | 'KILLED';
}

/** Result of the `finishSweepRun` activity. */
export interface FinishSweepRunResult {
  /** The rank-1 trial, or null when no trial finished with a validation accuracy. */
  bestTrialId: string | null;
  /** `<registered model>/<version>` of the best model, or null when none was registered. */
  modelVersion: string | null;
}

/** The sweep-level activities; `activities/sweep-run.ts` implements them. */
export interface SweepActivities {
  /**
   * Sets the sweep's MLflow parent run back to RUNNING (a resumed sweep runs again after its
   * run was ended). Safe to run again.
   */
  reopenSweepRun(tracking: SweepTrackingRef): Promise<void>;

  /**
   * Ends the sweep's MLflow parent run: leaderboard, figure, best trial, best model
   * registered, status. Safe to run again.
   */
  finishSweepRun(input: FinishSweepRunInput): Promise<FinishSweepRunResult>;
}
