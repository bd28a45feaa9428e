/**
 * MLflow's JSON shapes (snake_case, proto3 JSON rules) and their conversion to and from the
 * domain types in types.ts.
 */
import type {
  Experiment,
  MetricPoint,
  ModelVersion,
  Run,
  RunInfo,
  RunStatus,
} from './types.js';

/** MLflow's SQL store saves +/-Infinity as the largest finite double. */
const MAX_DOUBLE = 1.7976931348623157e308;

/** An experiment as MLflow sends it. */
export interface RawExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  tags?: { key: string; value: string }[];
}

/** `run.info` as MLflow sends it; int64 times may come as numbers or strings. */
export interface RawRunInfo {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status?: string;
  start_time?: number | string;
  end_time?: number | string;
  artifact_uri?: string;
  lifecycle_stage?: string;
}

/** A run as MLflow sends it. */
export interface RawRun {
  info: RawRunInfo;
  data?: {
    metrics?: RawMetric[];
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
  };
}

/** A metric point as MLflow sends it; `value` may be "NaN", "Infinity" or "-Infinity". */
export interface RawMetric {
  key: string;
  value: number | string;
  step?: number | string;
  timestamp?: number | string;
}

/** A metric point as this client sends it. */
export interface RawMetricOut {
  key: string;
  value: number | string;
  step: number;
  timestamp: number;
}

/** One entry of an artifact listing, path relative to the folder listed. */
export interface RawArtifact {
  path: string;
  is_dir?: boolean;
  file_size?: number | string;
}

/** A model version as MLflow sends it. */
export interface RawModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  status?: string;
}

/** A metric point as MLflow's JSON wants it; non-finite values become proto3 strings. */
export function toRawMetric(point: MetricPoint): RawMetricOut {
  return {
    key: point.key,
    value: encodeMetricValue(point.value),
    step: point.step,
    timestamp: point.timestampMs,
  };
}

/** `NaN` -> "NaN", `Infinity` -> "Infinity", `-Infinity` -> "-Infinity"; others unchanged. */
export function encodeMetricValue(value: number): number | string {
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (value === Number.POSITIVE_INFINITY) {
    return 'Infinity';
  }
  if (value === Number.NEGATIVE_INFINITY) {
    return '-Infinity';
  }
  return value;
}

/**
 * Reads a metric value from MLflow's JSON: numbers, or the proto3 strings "NaN", "Infinity",
 * "-Infinity". +/-1.7976931348623157e308 becomes +/-Infinity, undoing the SQL store's clamp.
 */
export function decodeMetricValue(raw: number | string): number {
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (value === MAX_DOUBLE) {
    return Number.POSITIVE_INFINITY;
  }
  if (value === -MAX_DOUBLE) {
    return Number.NEGATIVE_INFINITY;
  }
  return value;
}

/** Converts a metric point read from MLflow (see {@link decodeMetricValue}). */
export function toMetricPoint(raw: RawMetric): MetricPoint {
  return {
    key: raw.key,
    value: decodeMetricValue(raw.value),
    step: Number(raw.step ?? 0),
    timestampMs: Number(raw.timestamp ?? 0),
  };
}

/** Converts an experiment read from MLflow. */
export function toExperiment(raw: RawExperiment): Experiment {
  return {
    experimentId: raw.experiment_id,
    name: raw.name,
    artifactLocation: raw.artifact_location ?? '',
    lifecycleStage: raw.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    tags: fromKeyValues(raw.tags),
  };
}

/** Converts run facts read from MLflow; a missing end time stays undefined. */
export function toRunInfo(raw: RawRunInfo): RunInfo {
  return {
    runId: raw.run_id,
    experimentId: raw.experiment_id,
    runName: raw.run_name ?? '',
    status: (raw.status ?? 'RUNNING') as RunStatus,
    startTimeMs: Number(raw.start_time ?? 0),
    endTimeMs: raw.end_time === undefined ? undefined : Number(raw.end_time),
    artifactUri: raw.artifact_uri ?? '',
    lifecycleStage: raw.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
}

/** Converts a run read from MLflow; params and tags become records. */
export function toRun(raw: RawRun): Run {
  const metrics: Record<string, number> = {};
  for (const metric of raw.data?.metrics ?? []) {
    metrics[metric.key] = decodeMetricValue(metric.value);
  }
  return {
    info: toRunInfo(raw.info),
    params: fromKeyValues(raw.data?.params),
    tags: fromKeyValues(raw.data?.tags),
    metrics,
  };
}

/** Converts a model version read from MLflow. */
export function toModelVersion(raw: RawModelVersion): ModelVersion {
  return {
    name: raw.name,
    version: raw.version,
    source: raw.source ?? '',
    runId: raw.run_id === undefined || raw.run_id === '' ? undefined : raw.run_id,
    status: raw.status ?? '',
  };
}

/** `{ a: "1" }` -> `[{ key: "a", value: "1" }]`, the shape MLflow wants for tags. */
export function toKeyValues(record: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}

/** The reverse of {@link toKeyValues}; a later duplicate key wins. */
export function fromKeyValues(
  list: { key: string; value: string }[] | undefined,
): Record<string, string> {
  const record: Record<string, string> = {};
  for (const { key, value } of list ?? []) {
    record[key] = value;
  }
  return record;
}
