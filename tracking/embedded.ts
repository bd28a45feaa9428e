/**
 * The embedded MLflow server, shared by every `sweep` command that uses the same state folder,
 * the way `temporal/embedded.ts` shares the Temporal dev server: the first command starts it
 * (in its own process group, so Ctrl-C in one terminal does not stop it under another), each
 * command registers itself while it runs, and the last one to leave stops it. The SQLite file
 * and the artifacts stay, so the next command sees every run again.
 *
 * Files in the state folder, next to Temporal's: `mlflow.db`, `mlflow-artifacts/` and
 * `mlflow-server.log` (see `tracking/server.ts`), `mlflow-server.json` (pid and URL of the
 * running server), `mlflow-clients/<pid>` (commands using it), `mlflow.lock` (held while one
 * of those changes).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { logger } from '../lib/logger.js';
import { isAlive, liveClients, lockStateFolder } from '../lib/state-folder.js';
import { isMlflowHealthy, startMlflowServer, stopMlflowServerPid } from './server.js';

/** Options of {@link acquireEmbeddedMlflow}. */
export interface EmbeddedMlflowOptions {
  /** State folder (the embedded Temporal server's). */
  stateDir: string;
  /** Port when a server must be started; 0 picks a free one. */
  port: number;
  /**
   * Longest wait for the state folder's lock, in milliseconds; default 150,000 (a command
   * starting the server holds it for the server's start-up, up to 90 s).
   */
  timeoutMs?: number;
  /** The `mlflow` executable; default `resolveMlflowBin()`. */
  mlflowBin?: string;
}

/** A lease on the embedded server; `release()` stops it when nobody else uses it. */
export interface EmbeddedMlflowLease {
  /** Base URL, e.g. `http://127.0.0.1:5000`; use it as the tracking URI. */
  url: string;
  pid: number;
  /** True when this call started the server, false when it joined a running one. */
  started: boolean;
  /** Leaves the server; the last command to leave stops it. Safe to call twice. */
  release(): Promise<void>;
}

interface ServerRecord {
  pid: number;
  url: string;
  startedAt: string;
}

/**
 * Joins the state folder's running embedded MLflow server, or starts one.
 *
 * @throws ConfigError when the `mlflow` executable is missing or the port is in use.
 * @throws MlflowServerError when the server does not start.
 * @throws SweepError `STATE_LOCKED` when the state folder stays locked past
 *   `timeoutMs`.
 */
export async function acquireEmbeddedMlflow(
  options: EmbeddedMlflowOptions,
): Promise<EmbeddedMlflowLease> {
  const paths = statePaths(options.stateDir);
  const timeoutMs = options.timeoutMs ?? 150_000;
  mkdirSync(paths.clients, { recursive: true });

  const unlock = await lockStateFolder(paths.lock, timeoutMs, 'MLflow');
  let record: ServerRecord;
  let started = false;

  try {
    const existing = readRecord(paths.record);
    if (existing !== null && (await isMlflowHealthy(existing.url))) {
      record = existing;
    } else {
      // A recorded server that does not answer is stuck or half gone; it belongs to this folder.
      if (existing !== null) await stopMlflowServerPid(existing.pid);

      const server = await startMlflowServer({
        stateDir: options.stateDir,
        port: options.port,
        outliveProcess: true,
        ...(options.mlflowBin === undefined ? {} : { mlflowBin: options.mlflowBin }),
      });
      record = { pid: server.pid, url: server.url, startedAt: new Date().toISOString() };
      writeFileSync(paths.record, `${JSON.stringify(record, null, 2)}\n`);
      started = true;
    }

    writeFileSync(join(paths.clients, String(process.pid)), '');
  } finally {
    unlock();
  }

  logger.info({ url: record.url, serverPid: record.pid, started }, 'embedded mlflow in use');

  let released: Promise<void> | undefined;
  return {
    url: record.url,
    pid: record.pid,
    started,
    release: () => (released ??= releaseServer(paths, record, timeoutMs)),
  };
}

/**
 * The URL of the state folder's embedded server when one is recorded and answers, else null.
 * Starts nothing (for commands that only print links).
 */
export async function runningEmbeddedMlflow(stateDir: string): Promise<string | null> {
  const record = readRecord(statePaths(stateDir).record);
  if (record === null) return null;
  return (await isMlflowHealthy(record.url)) ? record.url : null;
}

async function releaseServer(
  paths: ReturnType<typeof statePaths>,
  record: ServerRecord,
  timeoutMs: number,
): Promise<void> {
  const unlock = await lockStateFolder(paths.lock, timeoutMs, 'MLflow');

  try {
    rmSync(join(paths.clients, String(process.pid)), { force: true });
    const others = liveClients(paths.clients);
    if (others.length > 0) {
      logger.info({ clients: others.length }, 'embedded mlflow left running for other commands');
      return;
    }

    await stopMlflowServerPid(record.pid);
    rmSync(paths.record, { force: true });
    logger.info({ url: record.url, serverPid: record.pid }, 'embedded mlflow stopped');
  } finally {
    unlock();
  }
}

function statePaths(stateDir: string) {
  return {
    record: join(stateDir, 'mlflow-server.json'),
    clients: join(stateDir, 'mlflow-clients'),
    lock: join(stateDir, 'mlflow.lock'),
  };
}

function readRecord(file: string): ServerRecord | null {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as ServerRecord;
    return typeof record.pid === 'number' && typeof record.url === 'string' ? record : null;
  } catch {
    return null;
  }
}
