/**
 * The embedded Temporal server, shared by every `sweep` command that uses the same state
 * folder. The first command starts it (in its own process group, so Ctrl-C in one terminal
 * does not kill it under another); each command registers itself while it runs; the last one
 * to leave stops it. The SQLite file stays, so the next command sees every sweep again.
 *
 * Files in the state folder: `temporal.db` (the server's state), `temporal.log`,
 * `temporal-server.json` (pid and address of the running server), `temporal-clients/<pid>`
 * (commands using it), `temporal.lock` (held while one of those changes).
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

import { Connection } from '@temporalio/client';

import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { isAlive, liveClients, lockStateFolder } from '../lib/state-folder.js';
import { DevServerError } from './errors.js';
import { startDevServer, stopServerPid } from './dev-server.js';

/** Options of {@link acquireEmbeddedServer}. */
export interface EmbeddedServerOptions {
  stateDir: string;
  /** gRPC port when a server must be started; 0 picks a free one. */
  port: number;
  /** UI port when a server must be started; 0 picks a free one, null runs headless. */
  uiPort: number | null;
  namespace: string;
  /** Longest wait for the lock or a starting server, in milliseconds; default 60,000. */
  timeoutMs?: number;
}

/** A lease on the embedded server; `release()` stops the server when nobody else uses it. */
export interface EmbeddedServerLease {
  address: string;
  uiUrl: string | null;
  pid: number;
  /** True when this call started the server, false when it joined a running one. */
  started: boolean;
  /** Leaves the server; the last command to leave stops it. Safe to call twice. */
  release(): Promise<void>;
}

interface ServerRecord {
  pid: number;
  address: string;
  uiUrl: string | null;
  startedAt: string;
}

/**
 * Joins the state folder's running embedded server, or starts one.
 *
 * @throws ConfigError when the state folder cannot be created or written.
 * @throws DevServerError when the server cannot be started (port in use, CLI missing, no
 *   answer) or the state folder stays locked longer than `timeoutMs`.
 */
export async function acquireEmbeddedServer(
  options: EmbeddedServerOptions,
): Promise<EmbeddedServerLease> {
  const paths = statePaths(options.stateDir);
  makeStateFolder(options.stateDir, paths.clients);

  const unlock = await lockStateFolder(paths.lock, options.timeoutMs ?? 60_000, 'Temporal');
  let record: ServerRecord;
  let started = false;

  try {
    const existing = readRecord(paths.record);
    if (existing !== null && isAlive(existing.pid) && (await answers(existing.address))) {
      record = existing;
    } else {
      // A recorded server that is alive but silent is stuck; it belongs to this folder.
      if (existing !== null) await stopServerPid(existing.pid);

      const server = await startDevServer({
        stateDir: options.stateDir,
        port: options.port,
        uiPort: options.uiPort,
        namespace: options.namespace,
        detached: true,
      });
      record = {
        pid: server.pid,
        address: server.address,
        uiUrl: server.uiUrl,
        startedAt: new Date().toISOString(),
      };
      writeFileSync(paths.record, `${JSON.stringify(record, null, 2)}\n`);
      started = true;
    }

    writeFileSync(join(paths.clients, String(process.pid)), '');
  } finally {
    unlock();
  }

  logger.info({ address: record.address, pid: record.pid, started }, 'embedded server in use');

  let released: Promise<void> | undefined;
  return {
    address: record.address,
    uiUrl: record.uiUrl,
    pid: record.pid,
    started,
    release: () => (released ??= releaseServer(paths, record, options.timeoutMs ?? 60_000)),
  };
}

async function releaseServer(
  paths: ReturnType<typeof statePaths>,
  record: ServerRecord,
  timeoutMs: number,
): Promise<void> {
  const unlock = await lockStateFolder(paths.lock, timeoutMs, 'Temporal');

  try {
    rmSync(join(paths.clients, String(process.pid)), { force: true });
    const others = liveClients(paths.clients);
    if (others.length > 0) {
      logger.info({ clients: others.length }, 'embedded server left running for other commands');
      return;
    }

    await stopServerPid(record.pid);
    rmSync(paths.record, { force: true });
    logger.info({ address: record.address, pid: record.pid }, 'embedded server stopped');
  } finally {
    unlock();
  }
}

/**
 * Creates the state folder (and `sub` inside it) and checks that files can be written there.
 *
 * @throws ConfigError naming the folder and why it cannot be used (a part of the path is a
 *   file, read-only file system, permission denied).
 */
function makeStateFolder(stateDir: string, sub: string): void {
  try {
    mkdirSync(sub, { recursive: true });
    const probe = join(stateDir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (error) {
    const reason = stateFolderProblem(stateDir, error as NodeJS.ErrnoException);
    throw new ConfigError(`cannot use the state folder ${stateDir}: ${reason}`, {
      hint:
        'Point SWEEP_STATE_DIR (or stateDir in sweep.config.yaml) at a folder this user can ' +
        'write, or pass --temporal-address to use a running cluster.',
      cause: error,
    });
  }
}

function stateFolderProblem(stateDir: string, error: NodeJS.ErrnoException): string {
  let code = error.code;
  // A recursive mkdir on a read-only file system says ENOENT; the nearest folder that exists
  // tells the real reason.
  if (code === 'ENOENT') code = writeProblemOfNearestFolder(stateDir) ?? code;

  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a part of that path is a file, not a folder';
  if (code === 'EROFS') return 'it is on a read-only file system';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return error.message;
}

function writeProblemOfNearestFolder(path: string): string | undefined {
  let folder = dirname(path);
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);

  try {
    accessSync(folder, constants.W_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

function statePaths(stateDir: string) {
  return {
    record: join(stateDir, 'temporal-server.json'),
    clients: join(stateDir, 'temporal-clients'),
    lock: join(stateDir, 'temporal.lock'),
  };
}

function readRecord(file: string): ServerRecord | null {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as ServerRecord;
    return typeof record.pid === 'number' && typeof record.address === 'string' ? record : null;
  } catch {
    return null;
  }
}

async function answers(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 2000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}
