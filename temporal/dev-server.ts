/**
 * The Temporal dev server (`temporal server start-dev`) as a child process: SQLite state in
 * the state folder, bound to loopback only, ready once its gRPC frontend answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { Connection } from '@temporalio/client';

import { logger } from '../lib/logger.js';
import { isAlive } from '../lib/state-folder.js';
import { DevServerError } from './errors.js';

/** Default gRPC port of the embedded server (Temporal's own default). */
export const DEFAULT_DEV_SERVER_PORT = 7233;

/** Lines of the server log quoted in start errors. */
const LOG_TAIL_LINES = 20;

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Folder for `temporal.db` (SQLite) and `temporal.log`; created if missing. */
  stateDir: string;
  /** Address to bind; default `127.0.0.1` (loopback only). */
  ip?: string;
  /** gRPC port; default 7233; 0 picks a free port. */
  port?: number;
  /** Web UI port; default gRPC port + 1000; 0 picks a free port; null runs headless. */
  uiPort?: number | null;
  /** Extra namespace to create at start (`default` always exists). */
  namespace?: string;
  /** The `temporal` CLI; default {@link resolveTemporalBin}. */
  binPath?: string;
  /** Extra `start-dev` arguments (benchmarks and tests). */
  extraArgs?: string[];
  /** Longest wait for the server to answer, in milliseconds; default 30,000. */
  startTimeoutMs?: number;
  /**
   * Run in its own process group and let this process exit without stopping it (the
   * embedded server outlives the command that started it when another still uses it).
   */
  detached?: boolean;
}

/** A running dev server. */
export interface DevServer {
  /** `ip:port` of the gRPC frontend. */
  address: string;
  port: number;
  /** Web UI base URL, or null when headless. */
  uiUrl: string | null;
  pid: number;
  dbFile: string;
  logFile: string;
  /** Stops the server: SIGTERM, then SIGKILL after 10 s. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The `temporal` CLI: `$SWEEP_TEMPORAL_BIN`, default
 * `${SWEEP_CACHE_DIR:-~/.cache/attention-sweep}/bin/temporal` (installed by `npm run setup`).
 */
export function resolveTemporalBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWEEP_TEMPORAL_BIN !== undefined && env.SWEEP_TEMPORAL_BIN !== '') {
    return env.SWEEP_TEMPORAL_BIN;
  }
  const cacheRoot = env.SWEEP_CACHE_DIR ?? join(homedir(), '.cache', 'attention-sweep');
  return join(cacheRoot, 'bin', 'temporal');
}

/** The dev server's SQLite database in a state folder: it exists once a server has run there. */
export function devServerDatabase(stateDir: string): string {
  return join(stateDir, 'temporal.db');
}

/** A TCP port on `host` that nothing listens on right now (the OS picks it). */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP port on `host` can be bound now. */
export async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a dev server and waits until its gRPC frontend and namespace answer.
 *
 * @throws DevServerError when the CLI is missing, a port is in use, the process exits early,
 *   or it does not answer within `startTimeoutMs` (the message quotes the log's last lines).
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const binPath = options.binPath ?? resolveTemporalBin();
  const namespace = options.namespace ?? 'default';

  if (!existsSync(binPath)) {
    throw new DevServerError(`the Temporal CLI was not found at ${binPath}`, {
      hint: 'Run `npm run setup` to build it, or set SWEEP_TEMPORAL_BIN to a temporal binary.',
    });
  }

  const port = await choosePort(ip, options.port ?? DEFAULT_DEV_SERVER_PORT, 'gRPC');
  const uiPort =
    options.uiPort === null ? null : await choosePort(ip, options.uiPort ?? port + 1000, 'UI');

  mkdirSync(options.stateDir, { recursive: true });
  const dbFile = devServerDatabase(options.stateDir);
  const logFile = join(options.stateDir, 'temporal.log');

  const args = [
    'server', 'start-dev',
    '--db-filename', dbFile,
    '--ip', ip,
    '--port', String(port),
    '--log-level', 'warn',
    // WAL with normal sync: several times the throughput of the default rollback journal,
    // and still safe when a process crashes (only a power cut can lose the last commits).
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
  ];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (namespace !== 'default') args.push('--namespace', namespace);
  args.push(...(options.extraArgs ?? []));

  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binPath, args, {
      stdio: ['ignore', logFd, logFd],
      detached: options.detached === true,
    });
  } finally {
    closeSync(logFd);
  }
  if (options.detached === true) child.unref();

  const address = `${ip}:${port}`;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
    child.once('error', (error) => resolve(error.message));
  });

  const server: DevServer = {
    address,
    port,
    uiUrl: uiPort === null ? null : `http://${ip}:${uiPort}`,
    pid: child.pid ?? -1,
    dbFile,
    logFile,
    stop: once(() => stopProcess(child.pid ?? -1, exited)),
  };

  try {
    await waitUntilReady(address, namespace, exited, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await server.stop();
    const tail = await logTail(logFile);
    const detail = error instanceof Error ? error.message : String(error);
    throw new DevServerError(
      `the Temporal dev server at ${address} did not start: ${detail}` +
        (tail === '' ? '' : `\nlast lines of ${logFile}:\n${tail}`),
      { logFile, hint: `Its full log is in ${logFile}.`, cause: error },
    );
  }

  logger.info({ address, uiUrl: server.uiUrl, pid: server.pid, dbFile }, 'dev server started');
  return server;
}

/**
 * Stops a server process by pid (one started by an earlier command): SIGTERM, then SIGKILL
 * after `graceMs`. Resolves once the process is gone; a pid that is already gone is fine.
 */
export async function stopServerPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  signal(pid, 'SIGTERM');

  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) signal(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

async function choosePort(ip: string, port: number, what: string): Promise<number> {
  if (port === 0) return findFreePort(ip);

  if (!(await isPortFree(ip, port))) {
    throw new DevServerError(
      `cannot start the embedded Temporal server: ${what} port ${port} on ${ip} is in use`,
      {
        hint:
          'Stop what listens there, pick other ports with SWEEP_TEMPORAL_PORT / ' +
          'SWEEP_TEMPORAL_UI_PORT, or point at a running cluster with --temporal-address.',
      },
    );
  }
  return port;
}

async function waitUntilReady(
  address: string,
  namespace: string,
  exited: Promise<string>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: string | undefined;
  void exited.then((how) => {
    gone = how;
  });

  let lastError: unknown;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`the server process ended (${gone})`);

    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
      await sleep(200);
    }
  }

  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`no answer within ${timeoutMs / 1000} s${detail}`);
}

async function stopProcess(pid: number, exited: Promise<string>): Promise<void> {
  if (pid <= 0) return;
  signal(pid, 'SIGTERM');

  const timer = setTimeout(() => signal(pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

async function logTail(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '';
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
