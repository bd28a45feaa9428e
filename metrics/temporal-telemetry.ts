/**
 * The Temporal SDK's own worker metrics (task slots, poll and schedule-to-start latencies,
 * activity failures), exported by the SDK's Rust core on a port of its own. They cannot share
 * our registry, so a worker serves two scrape targets: ours at `--metrics-port` and the SDK's
 * at `--metrics-port + 1` ({@link TEMPORAL_METRICS_PORT_OFFSET}).
 */
import type { TelemetryOptions } from '@temporalio/worker';

import { ConfigError } from '../lib/errors.js';

/** The SDK's metrics listen on the worker's metrics port plus this. */
export const TEMPORAL_METRICS_PORT_OFFSET = 1;

/**
 * Buckets, in seconds, of the SDK's schedule-to-start histograms. Its defaults stop at
 * 1,000 s, but trials wait for a free slot for hours when a sweep has more trials than slots.
 */
export const SCHEDULE_TO_START_BUCKETS_SECONDS = [
  0.1, 1, 5, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400,
];

/** Buckets, in seconds, of the SDK's activity execution histogram: trials run for hours. */
export const ACTIVITY_EXECUTION_BUCKETS_SECONDS = [
  1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400,
];

/**
 * Names of the SDK metrics the dashboard and alerts use, as exported with the options of
 * {@link temporalRuntimeTelemetry} (prefix `temporal_`, durations in seconds with a
 * `_seconds` suffix, counters with `_total`). Checked against a real worker of
 * @temporalio/worker 1.24.0; every series also has `namespace`, `task_queue`,
 * `service_name="temporal-core-sdk"` and our `worker` label.
 */
export const TEMPORAL_SDK_METRICS = {
  /** Histogram: queued activity (a trial) until a worker picked it up. */
  activityScheduleToStart: 'temporal_activity_schedule_to_start_latency_seconds',
  /** Histogram: queued workflow task until a worker picked it up. */
  workflowTaskScheduleToStart: 'temporal_workflow_task_schedule_to_start_latency_seconds',
  /** Histogram: one activity attempt's run time. */
  activityExecution: 'temporal_activity_execution_latency_seconds',
  /** Counter: activity attempts that failed. */
  activityExecutionFailed: 'temporal_activity_execution_failed_total',
  /** Gauge by `worker_type` (ActivityWorker, WorkflowWorker, LocalActivityWorker). */
  taskSlotsAvailable: 'temporal_worker_task_slots_available',
  /** Gauge by `worker_type`. */
  taskSlotsUsed: 'temporal_worker_task_slots_used',
} as const;

/** Options of {@link temporalRuntimeTelemetry}. */
export interface TemporalTelemetryOptions {
  /**
   * Tagged as `worker` on every SDK series, so they join ours; use the same value as
   * `createWorkerMetrics({ workerId })`. Default: no tag.
   */
  workerId?: string;
}

/**
 * The `telemetryOptions` a worker passes to `Runtime.install` so the SDK serves Prometheus
 * metrics at `http://<bindAddress>/metrics`, named by Prometheus convention (see
 * {@link TEMPORAL_SDK_METRICS}) with buckets sized for trials that queue and run for hours.
 *
 * The Runtime is one per process and installed once, before the first connection; options
 * given later are ignored by the SDK.
 *
 * @param bindAddress `host:port`, e.g. `127.0.0.1:9465`, or `0.0.0.0:9465` in a container.
 * @throws ConfigError when bindAddress is not `host:port` with a port from 1 to 65535.
 */
export function temporalRuntimeTelemetry(
  bindAddress: string,
  options: TemporalTelemetryOptions = {},
): TelemetryOptions {
  checkBindAddress(bindAddress);

  return {
    metrics: {
      prometheus: {
        bindAddress,
        countersTotalSuffix: true,
        unitSuffix: true,
        useSecondsForDurations: true,
        histogramBucketOverrides: {
          activity_schedule_to_start_latency: SCHEDULE_TO_START_BUCKETS_SECONDS,
          workflow_task_schedule_to_start_latency: SCHEDULE_TO_START_BUCKETS_SECONDS,
          activity_execution_latency: ACTIVITY_EXECUTION_BUCKETS_SECONDS,
        },
      },
      ...(options.workerId === undefined ? {} : { globalTags: { worker: options.workerId } }),
    },
  };
}

function checkBindAddress(bindAddress: string): void {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(bindAddress);
  const port = match === null ? NaN : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(
      `the Temporal metrics address must be host:port with a port from 1 to 65535, ` +
        `got ${JSON.stringify(bindAddress)}`,
      { hint: 'For example 127.0.0.1:9465, or 0.0.0.0:9465 in a container.' },
    );
  }
}
