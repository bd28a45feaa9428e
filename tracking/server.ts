/**
 * The embedded MLflow tracking server: one `mlflow server` process per state directory, with
 * a SQLite backend store and proxied artifacts, bound to loopback by default.
 *
 * Start-up takes about 6-8 s on a 2-core machine (Python imports dominate), so tests share
 * one server per file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';

import { ConfigError, SweepError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { MlflowServerError } from './errors.js';
import { sleep } from './retry.js';

/** Options of {@link startMlflowServer}. */
export interface MlflowServerOptions {
  /**
   * Folder that holds the server's state: `mlflow.db` (runs, metrics, registry),
   * `mlflow-artifacts/` (artifact files) and `mlflow-server.log`. Created if missing.
   * Restarting on the same folder keeps everything.
   */
  stateDir: string;

  /** TCP port; 0 (default) picks a free one. A port in use throws a retryable SweepError. */
  port?: number;

  /**
   * Interface to bind; default `127.0.0.1`. MLflow 3 answers only Host headers of localhost
   * and private addresses unless `--allowed-hosts` is given, which this does not pass.
   */
  host?: string;

  /** How long to wait for `/health` to answer 200, in ms. Default 90000. */
  startTimeoutMs?: number;

  /** How long `stop()` waits after SIGTERM before SIGKILL, in ms. Default 15000. */
  stopTimeoutMs?: number;

  /** The `mlflow` executable. Default {@link resolveMlflowBin}(). */
  mlflowBin?: string;

  /**
   * Let the server outlive this process: no exit hook stops it, and this process may exit
   * while it runs. For a server shared by several commands (see `tracking/embedded.ts`),
   * which stop it with {@link stopMlflowServerPid}. Default false.
   */
  outliveProcess?: boolean;
}

/** A running embedded server. */
export interface MlflowServer {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:41873`; use as tracking URI. */
  url: string;

  /** The port it listens on (the one picked when 0 was asked for). */
  port: number;

  /** Process id of `mlflow server`, which is also its process group id. */
  pid: number;

  /** The server's log file, appended to across restarts. */
  logFile: string;

  /** Milliseconds from spawn to the first healthy answer. */
  startupMs: number;

  /**
   * Stops the server: SIGTERM to its process group, then SIGKILL after `stopTimeoutMs`.
   * Resolves once the process has exited. Safe to call more than once.
   */
  stop(): Promise<void>;
}

/**
 * The `mlflow` executable: `SWEEP_MLFLOW_BIN`, else
 * `${SWEEP_CACHE_DIR:-$HOME/.cache/attention-sweep}/mlflow-venv/bin/mlflow`.
 */
export function resolveMlflowBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWEEP_MLFLOW_BIN !== undefined && env.SWEEP_MLFLOW_BIN !== '') {
    return env.SWEEP_MLFLOW_BIN;
  }
  const cacheDir = env.SWEEP_CACHE_DIR || path.join(homedir(), '.cache', 'attention-sweep');
  return path.join(cacheDir, 'mlflow-venv', 'bin', 'mlflow');
}

// Telemetry off (MLflow 3 sends usage events by default) and no job runner: the runner starts
// eight extra Python processes for features (LLM judges, trace archival) we do not use.
const SERVER_ENV = {
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
  PYTHONUNBUFFERED: '1',
};

const LOG_TAIL_LINES = 30;

/** Process groups still running, killed if this process exits without stopping them. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Starts `mlflow server` on a SQLite store in `stateDir`, with artifacts proxied into
 * `stateDir/mlflow-artifacts`, and waits until `/health` answers.
 *
 * The server runs in its own process group; if this Node process exits without calling
 * `stop()`, an exit hook sends that group SIGTERM (unless `outliveProcess` is set).
 *
 * @throws ConfigError when the options are invalid or the executable is missing.
 * @throws SweepError (retryable) when the port is in use; the message names the port and
 *   the hint how to pick another.
 * @throws MlflowServerError when the server exits or is not healthy within
 *   `startTimeoutMs`; the message ends with the tail of the server's log.
 */
export async function startMlflowServer(options: MlflowServerOptions): Promise<MlflowServer> {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const mlflowBin = options.mlflowBin ?? resolveMlflowBin();
  validateOptions(requestedPort, startTimeoutMs, stopTimeoutMs);

  const stateDir = path.resolve(options.stateDir);
  await mkdir(stateDir, { recursive: true });
  await checkExecutable(mlflowBin);

  const port = requestedPort === 0 ? await pickFreePort(host) : requestedPort;
  if (requestedPort !== 0) {
    await ensurePortFree(host, port);
  }

  const logFile = path.join(stateDir, 'mlflow-server.log');
  const { child, logOffset } = await spawnServer(mlflowBin, stateDir, host, port, logFile);
  const pid = child.pid as number;
  if (options.outliveProcess === true) {
    child.unref();
  } else {
    trackGroup(pid);
  }

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const startedAt = performance.now();
  const stopOnce = memoize(() => stopGroup(child, pid, stopTimeoutMs, url));

  try {
    await waitHealthy(child, url, startTimeoutMs);
  } catch (error) {
    await stopOnce();
    throw await startFailure(error, { logFile, logOffset, host, port, startTimeoutMs });
  }

  const startupMs = Math.round(performance.now() - startedAt);
  logger.info({ url, serverPid: pid, stateDir, startupMs }, 'mlflow server started');
  return { url, port, pid, logFile, startupMs, stop: stopOnce };
}

/**
 * Stops a server started by any process (e.g. an earlier command) by its pid, which is also
 * its process group: SIGTERM to the group, then SIGKILL after `timeoutMs` (default 15000).
 * Resolves once no process of the group is left; a group already gone is fine.
 */
export async function stopMlflowServerPid(pid: number, timeoutMs = 15_000): Promise<void> {
  if (pid <= 0 || !groupAlive(pid)) {
    return;
  }
  signalGroup(pid, 'SIGTERM');

  const deadline = performance.now() + timeoutMs;
  while (groupAlive(pid) && performance.now() < deadline) {
    await sleep(100);
  }
  if (groupAlive(pid)) {
    logger.warn({ serverPid: pid, timeoutMs }, 'mlflow server ignored SIGTERM, sending SIGKILL');
    signalGroup(pid, 'SIGKILL');
    const killDeadline = performance.now() + 5000;
    while (groupAlive(pid) && performance.now() < killDeadline) {
      await sleep(50);
    }
  }
  liveGroups.delete(pid);
}

/** Whether `url` answers MLflow's `/health` with 200 within `timeoutMs` (default 2000). */
export async function isMlflowHealthy(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function validateOptions(port: number, startTimeoutMs: number, stopTimeoutMs: number): void {
  const problems: string[] = [];
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!Number.isFinite(startTimeoutMs) || startTimeoutMs <= 0) {
    problems.push(`startTimeoutMs must be a positive number, got ${startTimeoutMs}`);
  }
  if (!Number.isFinite(stopTimeoutMs) || stopTimeoutMs <= 0) {
    problems.push(`stopTimeoutMs must be a positive number, got ${stopTimeoutMs}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid MLflow server options: ${problems.join('; ')}`);
  }
}

async function checkExecutable(mlflowBin: string): Promise<void> {
  try {
    await access(mlflowBin, fsConstants.X_OK);
  } catch (error) {
    throw new ConfigError(`the mlflow executable ${mlflowBin} is missing or not executable`, {
      hint:
        'Set SWEEP_MLFLOW_BIN to an mlflow 3.x executable, or install one with: ' +
        'python3 -m venv "$SWEEP_CACHE_DIR/mlflow-venv" && ' +
        '"$SWEEP_CACHE_DIR/mlflow-venv/bin/pip" install mlflow==3.17.2 (npm run setup does), ' +
        'or run sweeps with --no-tracking',
      cause: error,
    });
  }
}

/** Asks the OS for a free port on `host`. Another process could take it before MLflow does. */
async function pickFreePort(host: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function ensurePortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        reject(portInUse(host, port, error));
        return;
      }
      reject(error);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A port in use: retryable (exit 4), as for the embedded Temporal server. */
function portInUse(host: string, port: number, cause?: unknown): SweepError {
  return new SweepError(
    `port ${port} on ${host} is already in use, so the MLflow server cannot listen there`,
    {
      code: 'MLFLOW_PORT_IN_USE',
      retryable: true,
      hint:
        'Stop what listens there (`ss -ltnp \'sport = :' + port + '\'` shows it), pick another ' +
        'port with SWEEP_MLFLOW_PORT (or mlflowPort in sweep.config.yaml; 0 picks a free ' +
        'one), or pass --tracking-uri to use a running server.',
      cause,
    },
  );
}

async function spawnServer(
  mlflowBin: string,
  stateDir: string,
  host: string,
  port: number,
  logFile: string,
): Promise<{ child: ChildProcess; logOffset: number }> {
  const args = [
    'server',
    '--backend-store-uri', `sqlite:///${path.join(stateDir, 'mlflow.db')}`,
    '--artifacts-destination', path.join(stateDir, 'mlflow-artifacts'),
    '--serve-artifacts',
    '--host', host,
    '--port', String(port),
    '--workers', '1',
  ];

  const log = await open(logFile, 'a');
  await log.write(`\n=== ${new Date().toISOString()} ${mlflowBin} ${args.join(' ')}\n`);
  // The log tail of a failed start shows only what this start printed.
  const logOffset = (await log.stat()).size;

  try {
    // cwd is the state folder so that nothing MLflow writes by default (mlruns/, basic_auth.db)
    // lands in the repository.
    const child = spawn(mlflowBin, args, {
      cwd: stateDir,
      detached: true,
      env: { ...process.env, ...SERVER_ENV },
      stdio: ['ignore', log.fd, log.fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return { child, logOffset };
  } finally {
    await log.close();
  }
}

async function waitHealthy(child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new ServerExited(child.exitCode, child.signalCode);
    }
    if (await isMlflowHealthy(url)) {
      return;
    }
    await sleep(250);
  }
  throw new HealthTimeout();
}

class ServerExited extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(`exited with ${signal === null ? `code ${exitCode}` : `signal ${signal}`}`);
  }
}

class HealthTimeout extends Error {}

async function startFailure(
  error: unknown,
  where: { logFile: string; logOffset: number; host: string; port: number; startTimeoutMs: number },
): Promise<Error> {
  const logTail = await readLogTail(where.logFile, where.logOffset);

  // The probe passed, but another process can still take the port before MLflow binds it.
  if (/address already in use|Errno 98/i.test(logTail)) {
    return portInUse(where.host, where.port, error);
  }
  if (error instanceof ServerExited) {
    return new MlflowServerError(`the MLflow server ${error.message} during start-up`, {
      logFile: where.logFile,
      logTail,
      cause: error,
    });
  }
  if (error instanceof HealthTimeout) {
    const seconds = where.startTimeoutMs / 1000;
    return new MlflowServerError(
      `the MLflow server did not answer /health within ${seconds} s`,
      { logFile: where.logFile, logTail, retryable: true },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

async function readLogTail(logFile: string, fromOffset: number): Promise<string> {
  try {
    const text = (await readFile(logFile)).subarray(fromOffset).toString('utf8');
    const lines = text.trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch (error) {
    return `(could not read the log: ${String(error)})`;
  }
}

async function stopGroup(
  child: ChildProcess,
  pid: number,
  timeoutMs: number,
  url: string,
): Promise<void> {
  const startedAt = performance.now();
  signalGroup(pid, 'SIGTERM');

  let stopped = await waitGroupGone(child, pid, timeoutMs);
  if (!stopped) {
    logger.warn(
      { url, serverPid: pid, timeoutMs },
      'mlflow server ignored SIGTERM, sending SIGKILL',
    );
    signalGroup(pid, 'SIGKILL');
    stopped = await waitGroupGone(child, pid, 5000);
  }

  liveGroups.delete(pid);
  const durationMs = Math.round(performance.now() - startedAt);
  if (stopped) {
    logger.info({ url, serverPid: pid, durationMs }, 'mlflow server stopped');
  } else {
    logger.warn(
      { url, serverPid: pid, durationMs },
      'mlflow server processes still present after SIGKILL',
    );
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/** Waits until the server process has exited and no process of its group is left. */
async function waitGroupGone(child: ChildProcess, pid: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      if (!groupAlive(pid)) {
        return true;
      }
    }
    await sleep(100);
  }
  return false;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const group of liveGroups) {
      signalGroup(group, 'SIGTERM');
    }
  });
}

function memoize<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
