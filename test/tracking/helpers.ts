/**
 * Shared set-up of the tracking tests: a real MLflow server in a temp folder, and a pino
 * logger whose lines the test can read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino, type Logger } from 'pino';

import { startMlflowServer, type MlflowServer } from '../../tracking/server.js';

/** A server on a free port in a fresh temp state folder; `dispose()` stops it and cleans up. */
export async function startTestServer(): Promise<{
  server: MlflowServer;
  stateDir: string;
  dispose: () => Promise<void>;
}> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'sweep-mlflow-'));
  let server: MlflowServer;
  try {
    server = await startMlflowServer({ stateDir, startTimeoutMs: 120_000 });
  } catch (error) {
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }

  const dispose = async () => {
    await server.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
  return { server, stateDir, dispose };
}

/** A debug-level logger that keeps every line, parsed, in `records` and raw in `text()`. */
export function captureLogger(): {
  logger: Logger;
  records: Record<string, unknown>[];
  text: () => string;
} {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(line);
      },
    },
  );
  return {
    logger,
    get records() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text: () => lines.join(''),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
