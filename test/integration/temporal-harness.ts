/**
 * Shared set-up of the Temporal integration tests: a real dev server on free loopback ports
 * in a temp state folder (headless), clients for it, and small no-op sweeps.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';

import { sweepSpecSchema, type TrialConfig } from '../../spec/schema.js';
import { startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { installRuntime } from '../../workers/runtime.js';
import type { TrialRef, SweepRequest } from '../../workflows/types.js';

/** A dev server with both kinds of connection; `close()` stops it and removes its folder. */
export interface TestTemporal {
  server: DevServer;
  client: Client;
  connection: Connection;
  native: NativeConnection;
  stateDir: string;
  close(): Promise<void>;
}

/** Starts a dev server for one test file (call `close()` from an `after` hook). */
export async function startTestTemporal(): Promise<TestTemporal> {
  const stateDir = await mkdtemp(join(tmpdir(), 'sweep-temporal-'));
  const server = await startDevServer({ stateDir, port: 0, uiPort: null });
  const connection = await Connection.connect({ address: server.address });
  installRuntime();
  const native = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });

  const close = async (): Promise<void> => {
    await native.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    await server.stop();
    await rm(stateDir, { recursive: true, force: true });
  };

  return { server, client, connection, native, stateDir, close };
}

/** A trial config with every default (the dataset is never read by no-op trials). */
export function baseTrialConfig(): TrialConfig {
  const spec = sweepSpecSchema.parse({ name: 'test', dataset: { root: '/nonexistent' } });
  return {
    dataset: spec.dataset,
    augmentation: spec.augmentation,
    model: spec.model,
    training: spec.training,
    callbacks: spec.callbacks,
  };
}

/** `count` trials varying the learning rate, ids `<sweepId>-t<index>`. */
export function noopTrials(sweepId: string, count: number): TrialRef[] {
  const base = baseTrialConfig();
  return Array.from({ length: count }, (_, index) => {
    const learningRate = 0.001 * (index + 1);
    return {
      id: `${sweepId}-t${index}`,
      index,
      name: `training.learningRate=${learningRate}`,
      values: { 'training.learningRate': learningRate },
      config: { ...base, training: { ...base.training, learningRate } },
    };
  });
}

/** A sweep request for no-op trials on `taskQueue`. */
export function noopRequest(
  sweepId: string,
  count: number,
  options: Partial<SweepRequest> & { taskQueue: string },
): SweepRequest {
  return {
    sweepId,
    specHash: 'test',
    trials: noopTrials(sweepId, count),
    concurrency: 2,
    retry: { maximumAttempts: 1, initialIntervalSeconds: 1 },
    heartbeatTimeoutSeconds: 10,
    ...options,
  };
}

/** Memo for test sweeps. */
export function testMemo(sweepId: string, total: number) {
  return { name: sweepId, specFile: 'test.yaml', specHash: 'test', total, axes: [] };
}

/**
 * Runs `worker` until `fn` settles, failing if that takes longer than `timeoutMs`.
 */
export async function withWorker<T>(
  worker: Worker,
  fn: () => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });

  try {
    return await worker.runUntil(Promise.race([fn(), timeout]));
  } finally {
    clearTimeout(timer);
  }
}

/** Largest number of intervals open at once. */
export function maxOverlap(intervals: { startMs: number; stopMs: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { atMs: i.startMs, delta: 1 },
    { atMs: i.stopMs, delta: -1 },
  ]);
  // Stops before starts at the same instant: back-to-back trials do not overlap.
  edges.sort((a, b) => a.atMs - b.atMs || a.delta - b.delta);

  let open = 0;
  let most = 0;
  for (const edge of edges) {
    open += edge.delta;
    most = Math.max(most, open);
  }
  return most;
}

/** How a `sweep` command run as a process ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The `sweep` entry point. */
export const SWEEP_BIN = fileURLToPath(new URL('../../bin/sweep.js', import.meta.url));

/** Starts `sweep <args>` as a process (stdout and stderr piped). */
export function launchCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  return spawn(process.execPath, [SWEEP_BIN, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `sweep <args>` to its end; rejects (after killing it) past `timeoutMs`. */
export function runCli(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 90_000;

  return new Promise<CliRun>((resolve, reject) => {
    const child = launchCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sweep ${args.join(' ')} took over ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
