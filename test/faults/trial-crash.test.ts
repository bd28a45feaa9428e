/**
 * Trials whose process dies (a native crash, an out-of-memory kill) and a trial whose loss
 * diverges, in one sweep of real trials on one `sweep worker` process: the worker survives,
 * the crashed trials are retried by policy and resume from their checkpoint, the diverged
 * trial fails once with its reason and ranks last in `sweep report`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Connection } from '@temporalio/client';

import { startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { runCli } from '../integration/temporal-harness.js';
import {
  NO_FLOWERS,
  isRunning,
  readMetrics,
  runFolder,
  startSpecSweep,
  startWorker,
  sweepResult,
  tinySpec,
  type WorkerProcess,
} from './fault-harness.js';

const SPEC = tinySpec({
  name: 'trial-crash',
  epochs: 2,
  perClass: 4,
  batchSize: 10,
  grid: '  training.learningRate: [0.001, 0.002, 1.0e+30]',
  execution: [
    '  concurrency: 2',
    '  heartbeatTimeoutSeconds: 5',
    '  retry:',
    '    maximumAttempts: 3',
    '    initialIntervalSeconds: 1',
    '  testOnly:',
    '    crashTrials:',
    '      - { index: 0, how: abort, afterEpoch: 1 }',
    '      - { index: 1, how: oom, afterEpoch: 1 }',
  ].join('\n'),
});

describe('trial processes that crash or diverge', { timeout: 150_000, skip: NO_FLOWERS }, () => {
  let dir: string;
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let worker: WorkerProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-fault-crash-'));
    server = await startDevServer({ stateDir: join(dir, 'server'), port: 0, uiPort: null });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
  });

  after(async () => {
    await worker?.kill();
    await connection?.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('trial crash - the worker survives, crashed trials resume, a diverged one fails once',
    async () => {
      const stateDir = join(dir, 'state');
      worker = startWorker(
        server.address,
        { SWEEP_STATE_DIR: stateDir, SWEEP_LOG_LEVEL: 'error' },
        { slots: 2 },
      );
      await worker.ready;

      const { sweepId, trials } = await startSpecSweep(client, join(dir, 'crash.yaml'), SPEC);
      const result = await sweepResult(client, sweepId, 120_000);
      const [aborted, oomKilled, diverged] = result.trials;

      // 1. A native crash (SIGABRT) and an out-of-memory kill (SIGKILL): one retry each,
      // resumed from the checkpoint of epoch 1.
      assert.deepEqual(result.counts, { queued: 0, running: 0, done: 2, failed: 1, cancelled: 0 });
      for (const [row, trial] of [[aborted, trials[0]], [oomKilled, trials[1]]] as const) {
        assert.equal(row?.state, 'done', row?.error ?? '');
        assert.equal(row?.attempts, 2);
        const metrics = readMetrics(runFolder(stateDir, sweepId, trial!.id));
        assert.equal(metrics.resumedFromEpoch, 1);
        assert.equal(metrics.epochsRun, 2);
      }

      // 2. The diverged trial: one attempt, its reason, no retry.
      assert.equal(diverged?.state, 'failed');
      assert.equal(diverged?.attempts, 1);
      assert.match(
        diverged?.error ?? '',
        new RegExp(
          `^TRIAL_DIVERGED: trial ${trials[2]!.id} failed: training diverged: loss became ` +
            '(NaN|-?Infinity) at epoch 1, batch \\d+$',
        ),
      );
      assert.ok(isRunning(worker.pid), `the worker survived:\n${worker.output()}`);

      // 3. `sweep report` ranks the done trials, then the diverged one, last, with its reason.
      const report = await runCli(['report', sweepId, '--temporal-address', server.address], {
        cwd: dir,
        env: { ...process.env, SWEEP_STATE_DIR: stateDir, SWEEP_LOG_LEVEL: 'error' },
      });
      assert.equal(report.code, 0, report.stderr);
      assert.match(report.stdout, /^leaderboard \(top 2 of 2 done, by best val acc\)$/m);

      const lines = report.stdout.split('\n');
      const notRanked = lines.indexOf('not ranked (1 did not finish)');
      assert.ok(notRanked > lines.findIndex((line) => /^2 +\d /.test(line)), report.stdout);
      assert.match(
        lines[notRanked + 1] ?? '',
        /^ {2}2 learningRate=1e\+30: failed after 1 attempt\(s\): TRIAL_DIVERGED: trial /,
      );
    });
});
