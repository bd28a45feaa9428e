/**
 * The Temporal SDK's per-process Runtime, set up so that the SDK's own log lines go into our
 * pino log instead of the console (where they would garble the live view).
 */
import { DefaultLogger, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';

import { logger } from '../lib/logger.js';

let runtimeInstalled = false;

/**
 * Routes the SDK's own log lines into our pino log (so they never garble the live view).
 * The Runtime is per process and can be installed once; later calls do nothing.
 */
export function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;

  const sdkLogger = logger.child({ component: 'temporal-sdk' });
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) => {
        const fields: LogMetadata = { ...(entry.meta ?? {}) };
        // A workflows-only worker (status, cancel) polls no activities on purpose.
        const expected = entry.message.startsWith('No activities registered');
        const level = expected ? 'debug' : pinoLevel(entry.level);
        sdkLogger[level](fields, entry.message);
      }),
    });
  } catch (error) {
    // Another part of this process created the Runtime first; keep its logger.
    logger.debug({ err: error }, 'temporal runtime already installed');
  }
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
