/**
 * A worker's two Prometheus scrape targets, set up before it connects: our metrics
 * (`metrics/worker-metrics.ts`) on a small HTTP server, and the Temporal SDK's own metrics,
 * which its Runtime serves on a second port (`metrics/temporal-telemetry.ts`).
 */
import { hostname } from 'node:os';

import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { startMetricsServer, type MetricsServer } from '../metrics/server.js';
import {
  TEMPORAL_METRICS_PORT_OFFSET,
  temporalRuntimeTelemetry,
} from '../metrics/temporal-telemetry.js';
import { createWorkerMetrics, type WorkerMetrics } from '../metrics/worker-metrics.js';
import { findFreePort, isPortFree } from '../temporal/dev-server.js';
import { installRuntime } from './runtime.js';

/** The metrics flags of commands that run a worker (`worker`, `start`, `resume`). */
export interface MetricsFlags {
  /** False (`--no-metrics`) serves no metrics. */
  metrics?: boolean | undefined;
  /** Port of our `/metrics` (the SDK's is the next one); 0 picks free ports. */
  metricsPort?: number | undefined;
  /** Address to listen on; default `$SWEEP_METRICS_HOST`, else `127.0.0.1`. */
  metricsHost?: string | undefined;
}

/**
 * {@link startWorkerTelemetry} as the flags say, or null with `--no-metrics` (the Runtime is
 * then installed without SDK metrics).
 *
 * @throws ConfigError as {@link startWorkerTelemetry} does.
 */
export async function startTelemetryFromFlags(
  flags: MetricsFlags,
  worker: { slots: number; defaultPort: number },
): Promise<WorkerTelemetry | null> {
  if (flags.metrics === false) {
    installRuntime();
    return null;
  }
  return await startWorkerTelemetry({
    port: flags.metricsPort ?? worker.defaultPort,
    host: flags.metricsHost,
    slots: worker.slots,
  });
}

/** One line for people: where the two scrape targets are. */
export function telemetryLine(telemetry: WorkerTelemetry | null): string {
  if (telemetry === null) return 'metrics: off (--no-metrics)';
  const sdk = telemetry.sdkUrl === null ? 'not served' : telemetry.sdkUrl;
  return `metrics: ${telemetry.url} (Temporal SDK: ${sdk})`;
}

/** Options of {@link startWorkerTelemetry}. */
export interface WorkerTelemetryOptions {
  /**
   * Port of our `/metrics`. The SDK's metrics go to `port + 1`. 0 picks two free ports
   * instead (printed by the caller from the returned URLs).
   */
  port: number;
  /**
   * Address both listen on; default `$SWEEP_METRICS_HOST`, else `127.0.0.1`. Use `0.0.0.0`
   * in a container or pod so Prometheus can reach them.
   */
  host?: string | undefined;
  /** The `worker` label of every series; default the host name. */
  workerId?: string;
  /** Trial slots the worker offers (`sweep_worker_slots`). */
  slots: number;
}

/** A worker's metrics, served. */
export interface WorkerTelemetry {
  /** Feed these from the trial activities. */
  metrics: WorkerMetrics;
  /** Our metrics, e.g. `http://127.0.0.1:9464/metrics`. */
  url: string;
  /**
   * The SDK's metrics, e.g. `http://127.0.0.1:9465/metrics`; null when this process had
   * installed the Temporal Runtime before (then the SDK serves none).
   */
  sdkUrl: string | null;
  /** Stops our metrics server (the SDK's lives as long as the process). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Installs the Temporal Runtime with the SDK's metrics, builds the worker's metrics and
 * serves them, with every slot free. Call it before the worker's first Temporal connection.
 *
 * @throws ConfigError when a port is outside 0-65535 or in use, or the host is not an
 *   address of this machine.
 */
export async function startWorkerTelemetry(
  options: WorkerTelemetryOptions,
): Promise<WorkerTelemetry> {
  const host = options.host ?? nonEmpty(process.env.SWEEP_METRICS_HOST) ?? '127.0.0.1';
  const workerId = options.workerId ?? hostname();
  const sdkPort = await chooseSdkPort(host, options.port);

  const metrics = createWorkerMetrics({ workerId });
  const server: MetricsServer = await startMetricsServer({
    host,
    port: options.port,
    registry: metrics.registry,
  });
  metrics.setSlots(options.slots, 0);

  const urlHost = host.includes(':') ? `[${host}]` : host;
  const telemetry = temporalRuntimeTelemetry(`${urlHost}:${sdkPort}`, { workerId });
  let sdkUrl: string | null = `http://${urlHost}:${sdkPort}/metrics`;
  if (!installRuntime({ telemetry })) {
    logger.warn({ sdkPort }, 'temporal sdk metrics not served: runtime installed earlier');
    sdkUrl = null;
  }

  return { metrics, url: server.url, sdkUrl, close: () => server.close() };
}

async function chooseSdkPort(host: string, port: number): Promise<number> {
  if (port === 0) return findFreePort(host);

  const sdkPort = port + TEMPORAL_METRICS_PORT_OFFSET;
  if (!Number.isInteger(sdkPort) || sdkPort < 1 || sdkPort > 65535) {
    throw new ConfigError(
      `the metrics port must be a whole number from 0 to 65534, got ${port}`,
      { hint: 'The Temporal SDK metrics take the next port; pass e.g. --metrics-port 9464.' },
    );
  }
  if (!(await isPortFree(host, sdkPort))) {
    throw new ConfigError(
      `the Temporal SDK metrics port ${sdkPort} (--metrics-port + 1) on ${host} is in use`,
      {
        hint:
          'Pass another --metrics-port, or 0 for free ports; ' +
          `ss -ltnp 'sport = :${sdkPort}' shows which process holds it.`,
      },
    );
  }
  return sdkPort;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
