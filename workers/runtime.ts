/**
 * The Temporal SDK's per-process Runtime, set up so that the SDK's own log lines go into our
 * pino log instead of the console (where they would garble the live view), and, on workers,
 * so that the SDK serves its Prometheus metrics.
 */
import {
  DefaultLogger,
  Runtime,
  type LogLevel,
  type LogMetadata,
  type TelemetryOptions,
} from '@temporalio/worker';

import { logger } from '../lib/logger.js';

let runtimeInstalled = false;

/** Options of {@link installRuntime}. */
export interface RuntimeOptions {
  /**
   * The SDK's own metrics (see `metrics/temporal-telemetry.ts`); default none. Only the first
   * install counts: the Runtime is per process and must be installed before the first
   * connection.
   */
  telemetry?: TelemetryOptions;
}

/**
 * Routes the SDK's own log lines into our pino log (so they never garble the live view) and,
 * when asked, serves the SDK's metrics. The Runtime is per process and can be installed once;
 * later calls do nothing.
 *
 * @returns true when this call installed the Runtime with `options`; false when it was
 *   installed before (by an earlier call, or by a connection made first), so `telemetry`
 *   was not applied.
 */
export function installRuntime(options: RuntimeOptions = {}): boolean {
  if (runtimeInstalled) return false;
  runtimeInstalled = true;

  const sdkLogger = logger.child({ component: 'temporal-sdk' });
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) => {
        const fields: LogMetadata = { ...(entry.meta ?? {}) };
        const level = isExpected(entry.message, fields) ? 'debug' : pinoLevel(entry.level);
        sdkLogger[level](fields, entry.message);
      }),
      ...(options.telemetry === undefined ? {} : { telemetryOptions: options.telemetry }),
    });
    return true;
  } catch (error) {
    // Another part of this process created the Runtime first; keep its logger.
    logger.debug({ err: error }, 'temporal runtime already installed');
    return false;
  }
}

/**
 * SDK warnings that are part of normal work: a workflows-only worker (status, cancel) polls no
 * activities on purpose, and a trial handed back by a stopping worker (Ctrl-C) resumes later.
 */
function isExpected(message: string, fields: LogMetadata): boolean {
  if (message.startsWith('No activities registered')) return true;
  const error = fields.error as { type?: unknown } | undefined;
  return message === 'Activity failed' && error?.type === 'TRIAL_HANDED_BACK';
}

function pinoLevel(level: LogLevel): 'trace' | 'debug' | 'info' | 'warn' | 'error' {
  switch (level) {
    case 'TRACE':
      return 'trace';
    case 'DEBUG':
      return 'debug';
    case 'INFO':
      return 'info';
    case 'WARN':
      return 'warn';
    default:
      return 'error';
  }
}
