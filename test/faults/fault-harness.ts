/**
 * Shared set-up of the fault tests: a real dev server, `sweep worker` processes started as a
 * user would start them, specs written to temp files and started through the client code the
 * CLI uses, and helpers to watch processes through /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Client } from '@temporalio/client';

import { loadSpec } from '../../spec/load.js';
import { planTrials, type PlannedTrial } from '../../spec/plan.js';
import { startSweep, sweepRequestFromPlan } from '../../temporal/sweeps.js';
import type { SweepResult } from '../../workflows/types.js';
import { SWEEP_BIN } from '../integration/temporal-harness.js';

/** The real flowers photos (read-only; tests use a few per class at 32 px). */
export const FLOWERS = fileURLToPath(new URL('../../../shared/datasets/flowers', import.meta.url));

/** Why a test that needs the photos is skipped, or false when they are there. */
export const NO_FLOWERS: string | false = existsSync(FLOWERS) ? false : `no dataset at ${FLOWERS}`;

/** A `sweep worker` process. */
export interface WorkerProcess {
  process: ChildProcess;
  pid: number;
  /** Everything it wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Resolves once it prints its `worker on ...` line; rejects if it exits first. */
  ready: Promise<void>;
  /** SIGKILL if still running; resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `sweep worker --temporal-address <address> --slots <slots>` (default 1 slot) as its
 * own process, with `env` over the test's environment (state folder, log level, ...). It
 * records in MLflow only when `tracking` names a tracking URI, and serves Prometheus metrics
 * (on free ports) only when `metrics` is true.
 */
export function startWorker(
  address: string,
  env: NodeJS.ProcessEnv,
  options: { slots?: number; tracking?: string; metrics?: boolean; args?: string[] } = {},
): WorkerProcess {
  const args = [
    '--temporal-address', address,
    '--slots', String(options.slots ?? 1),
    // MLflow and Prometheus have their own tests; unless asked for, they only add servers.
    ...(options.tracking === undefined ? ['--no-tracking'] : ['--tracking-uri', options.tracking]),
    ...(options.metrics === true ? ['--metrics-port', '0'] : ['--no-metrics']),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, [SWEEP_BIN, 'worker', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let text = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (/^worker on /m.test(text)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${signal ?? code}) before it was ready:\n${text}`)),
    );
  });
  // A worker killed on purpose later must not count as an unhandled rejection.
  ready.catch(() => undefined);

  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    process: child,
    pid: child.pid ?? -1,
    output: () => text,
    ready,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Writes a spec file and starts its sweep on `client`, as `sweep start --detach` would. */
export async function startSpecSweep(
  client: Client,
  specFile: string,
  text: string,
): Promise<{ sweepId: string; trials: PlannedTrial[] }> {
  await writeFile(specFile, text);
  const loaded = await loadSpec(specFile);
  const plan = planTrials(loaded);
  const { request, memo } = sweepRequestFromPlan(loaded, plan);

  await startSweep(client, request, memo);
  return { sweepId: plan.sweepId, trials: plan.trials };
}

/** The sweep's result, failing after `timeoutMs`. */
export async function sweepResult(
  client: Client,
  sweepId: string,
  timeoutMs: number,
): Promise<SweepResult> {
  const handle = client.workflow.getHandle(sweepId);
  return withTimeout(handle.result() as Promise<SweepResult>, timeoutMs, `sweep ${sweepId}`);
}

/** Rejects with a message naming `what` when `promise` takes longer than `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
  });

  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every `everyMs` until it returns (or resolves to) a value, not undefined. */
export async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;

  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Pids whose parent is `pid`, read from /proc. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];

  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== undefined && stat.ppid === pid) children.push(Number(name));
  }
  return children;
}

/** Whether a process runs: a zombie (exited, not yet reaped) counts as gone. */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** The trial child process of a worker (the one running `trial-entry.ts`), if any. */
export function trialChildOf(workerPid: number): number | undefined {
  return childrenOf(workerPid).find((pid) => {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return command.includes('trial-entry') && isRunning(pid);
    } catch {
      return false;
    }
  });
}

/** Pids of the processes in process group `pgid`, read from /proc. */
export function processGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => readStat(pid)?.pgrp === pgid);
}

/**
 * Local addresses (`ip:port`) of the TCP sockets that processes `pids` listen on, from
 * `ss -Hltnp`; undefined when `ss` is not installed.
 */
export function listeningAddresses(pids: number[]): string[] | undefined {
  let text: string;
  try {
    text = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }

  const wanted = new Set(pids);
  const addresses: string[] = [];
  for (const line of text.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    const owners = [...line.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));
    if (local !== undefined && owners.some((pid) => wanted.has(pid))) addresses.push(local);
  }
  return addresses;
}

/** Fields of /proc/<pid>/stat, or undefined when the process is gone. */
function readStat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }

  // The command name is in parentheses and may hold spaces; the fields after it are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** The run folder of a trial under a state folder (as `activities/trial.ts` names it). */
export function runFolder(stateDir: string, sweepId: string, trialId: string): string {
  return join(stateDir, 'runs', sweepId, trialId);
}

/** Keras-style `history.json` of a finished trial: one array per metric. */
export function readHistory(runDir: string): Record<string, number[]> {
  return JSON.parse(readFileSync(join(runDir, 'history.json'), 'utf8')) as Record<
    string,
    number[]
  >;
}

/** `metrics.json` of a finished trial. */
export function readMetrics(runDir: string): { resumedFromEpoch: number; epochsRun: number } {
  return JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as {
    resumedFromEpoch: number;
    epochsRun: number;
  };
}

/** A spec of real trials on a few flowers photos at 32 px, early stopping off. */
export function tinySpec(options: {
  name: string;
  epochs: number;
  perClass: number;
  batchSize: number;
  grid?: string;
  execution: string;
}): string {
  return [
    `name: ${options.name}`,
    'dataset:',
    `  root: ${FLOWERS}`,
    '  imageSize: 32',
    `  maxPerClass: ${options.perClass}`,
    'training:',
    `  epochs: ${options.epochs}`,
    `  batchSize: ${options.batchSize}`,
    'callbacks:',
    '  earlyStopping:',
    '    enabled: false',
    ...(options.grid === undefined ? [] : ['grid:', options.grid]),
    'execution:',
    options.execution,
    '',
  ].join('\n');
}
