/**
 * A worker killed with SIGKILL in the middle of a real trial: its trial process dies with it,
 * another worker resumes the trial from the last epoch checkpoint, and the history holds each
 * epoch once.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Connection } from '@temporalio/client';

import { startDevServer, type DevServer } from '../../temporal/dev-server.js';
import {
  NO_FLOWERS,
  isRunning,
  readHistory,
  readMetrics,
  runFolder,
  startSpecSweep,
  startWorker,
  sweepResult,
  tinySpec,
  trialChildOf,
  waitFor,
  type WorkerProcess,
} from './fault-harness.js';

// Epochs of 8 batches, each blocked 0.6 s as a compute-bound batch would block: a trial
// process that outlived its worker until the end of its epoch would still be training when
// the retry starts (about one heartbeat timeout, 5 s, after the kill).
const SPEC = tinySpec({
  name: 'worker-kill',
  epochs: 3,
  perClass: 16,
  batchSize: 10,
  execution: [
    '  concurrency: 1',
    '  heartbeatTimeoutSeconds: 5',
    '  retry:',
    '    maximumAttempts: 3',
    '    initialIntervalSeconds: 1',
    '  testOnly:',
    '    slowBatchMs: 600',
  ].join('\n'),
});

describe('worker killed mid-trial', { timeout: 150_000, skip: NO_FLOWERS }, () => {
  let dir: string;
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  const workers: WorkerProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-fault-kill-'));
    server = await startDevServer({ stateDir: join(dir, 'server'), port: 0, uiPort: null });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
  });

  after(async () => {
    for (const worker of workers) await worker.kill();
    await connection?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('worker kill - the trial process dies with its worker and the trial resumes elsewhere',
    async () => {
      const stateDir = join(dir, 'state');
      const env = { SWEEP_STATE_DIR: stateDir, SWEEP_LOG_LEVEL: 'warn' };
      workers.push(startWorker(server.address, env), startWorker(server.address, env));
      await Promise.all(workers.map((worker) => worker.ready));

      const { sweepId, trials } = await startSpecSweep(client, join(dir, 'kill.yaml'), SPEC);
      const runDir = runFolder(stateDir, sweepId, trials[0]!.id);

      // 1. Find the worker that took the trial, and kill it once epoch 1 is checkpointed.
      const [victim, trialPid] = await waitFor(
        () => {
          for (const worker of workers) {
            const pid = trialChildOf(worker.pid);
            if (pid !== undefined) return [worker, pid] as const;
          }
          return undefined;
        },
        60_000,
        'a worker to start the trial process',
      );
      await waitFor(
        () => (existsSync(join(runDir, 'checkpoint', 'state.json')) ? true : undefined),
        60_000,
        'the checkpoint of epoch 1',
      );
      const survivor = workers.find((worker) => worker !== victim)!;
      await victim.kill();
      const killedAtMs = Date.now();

      // 2. The orphaned trial process must be gone before the retry starts on the survivor.
      let orphanGoneAtMs: number | undefined;
      const retryPid = await waitFor(
        () => {
          if (orphanGoneAtMs === undefined && !isRunning(trialPid)) orphanGoneAtMs = Date.now();
          return trialChildOf(survivor.pid);
        },
        60_000,
        'the retry on the other worker',
        20,
      );
      const retryStartedAtMs = Date.now();

      assert.ok(
        orphanGoneAtMs !== undefined,
        `trial process ${trialPid} still ran when the retry ${retryPid} started ` +
          `${retryStartedAtMs - killedAtMs} ms after the kill`,
      );
      // A batch blocks 0.6 s; the bound leaves room for a loaded machine to reap the process.
      const orphanMs = orphanGoneAtMs - killedAtMs;
      assert.ok(orphanMs < 3000, `it stopped ${orphanMs} ms after the kill, within a batch or so`);

      // 3. The sweep finishes; the trial resumed from epoch 1 and recorded each epoch once.
      const result = await sweepResult(client, sweepId, 90_000);
      assert.deepEqual(result.counts, { queued: 0, running: 0, done: 1, failed: 0, cancelled: 0 });
      assert.equal(result.trials[0]!.attempts, 2);
      assert.equal(result.trials[0]!.epoch, 3);

      const metrics = readMetrics(runDir);
      assert.ok(metrics.resumedFromEpoch > 0, `resumed from epoch ${metrics.resumedFromEpoch}`);
      assert.equal(metrics.epochsRun, 3);
      assert.equal(readHistory(runDir).loss?.length, 3);
      assert.ok(isRunning(survivor.pid), survivor.output());
    });
});
