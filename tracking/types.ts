/**
 * The domain types of the tracking layer: experiments, runs, metric points, artifacts and
 * model versions, in camelCase with units in the names (MLflow's JSON is snake_case; see
 * wire.ts for the conversion).
 */

/** Status of a run, as MLflow names it. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** Which runs a search sees, by lifecycle stage. */
export type RunViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** An MLflow experiment. */
export interface Experiment {
  experimentId: string;
  name: string;
  /** Where its runs' artifacts go, e.g. `mlflow-artifacts:/1`. */
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
  tags: Record<string, string>;
}

/** The fixed facts of a run. */
export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  status: RunStatus;
  /** Unix time in ms. */
  startTimeMs: number;
  /** Unix time in ms; undefined while the run has not ended. */
  endTimeMs: number | undefined;
  /** Root of the run's artifacts, e.g. `mlflow-artifacts:/1/<runId>/artifacts`. */
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
}

/** A run with its data. */
export interface Run {
  info: RunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The latest value of each metric (highest step, then latest timestamp). */
  metrics: Record<string, number>;
}

/**
 * One metric point. `value` may be NaN or +/-Infinity: NaN is stored as NaN; MLflow's SQL
 * store keeps +/-Infinity as +/-1.7976931348623157e308 (the largest double), which this
 * client reads back as +/-Infinity.
 */
export interface MetricPoint {
  key: string;
  value: number;
  /** Integer step (epoch, batch...); MLflow defaults it to 0. */
  step: number;
  /** Unix time in ms. */
  timestampMs: number;
}

/** A file or folder in a run's artifacts. */
export interface ArtifactEntry {
  /** Path relative to the run's artifact root, `/`-separated. */
  path: string;
  isDir: boolean;
  /** Size in bytes, for files. */
  sizeBytes: number | undefined;
}

/** A version of a registered model. */
export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  runId: string | undefined;
  /** `READY` once usable; MLflow OSS sets it at once. */
  status: string;
}

/** Params, metrics and tags to log for one run; any of them may be empty. */
export interface RunData {
  /** Param values are stored as strings; once logged, a param cannot change value. */
  params?: Record<string, string | number | boolean>;
  metrics?: MetricPoint[];
  /** Tag values may be overwritten. */
  tags?: Record<string, string>;
}
