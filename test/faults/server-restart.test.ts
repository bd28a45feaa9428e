/**
 * The Temporal dev server killed with SIGKILL mid-sweep and started again on the same SQLite
 * file: the worker reconnects by itself and the sweep finishes, every trial done.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Connection } from '@temporalio/client';

import { findFreePort, startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { readSweepStatus } from '../../temporal/sweeps.js';
import {
  isRunning,
  startSpecSweep,
  startWorker,
  sweepResult,
  waitFor,
  withTimeout,
  type WorkerProcess,
} from './fault-harness.js';

const SPEC = `name: server-restart
dataset:
  root: /nonexistent/no-op-trials-never-read-it
grid:
  model.dropout.dense: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
execution:
  concurrency: 2
  heartbeatTimeoutSeconds: 5
  retry:
    maximumAttempts: 5
    initialIntervalSeconds: 1
`;

describe('dev server killed mid-sweep', { timeout: 120_000 }, () => {
  let dir: string;
  let port: number;
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  const connections: Connection[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-fault-server-'));
    port = await findFreePort();
  });

  after(async () => {
    await worker?.kill();
    for (const connection of connections) await connection.close().catch(() => undefined);
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function connect(address: string): Promise<Client> {
    const connection = await Connection.connect({ address });
    connections.push(connection);
    return new Client({ connection });
  }

  test('server restart - the sweep finishes once the worker reconnects', async () => {
    const stateDir = join(dir, 'server');
    server = await startDevServer({ stateDir, port, uiPort: null });
    worker = startWorker(server.address, {
      SWEEP_STATE_DIR: join(dir, 'state'),
      SWEEP_LOG_LEVEL: 'error',
      SWEEP_NOOP_TRIAL_MS: '1500',
    }, { args: ['--trial-kind', 'noop'] });
    await worker.ready;

    const before = await connect(server.address);
    const { sweepId } = await startSpecSweep(before, join(dir, 'restart.yaml'), SPEC);

    // 1. Kill the server (no clean shutdown) once some trials are done and others running.
    await waitFor(async () => {
      const view = await readSweepStatus(before, sweepId);
      return view.counts.done >= 2 && view.counts.running >= 1 ? true : undefined;
    }, 30_000, 'two trials done and one running');
    const killed = server;
    process.kill(killed.pid, 'SIGKILL');
    await killed.stop();
    assert.ok(!isRunning(killed.pid));

    // 2. A few seconds without a server, then a new one on the same database and port.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    server = await startDevServer({ stateDir, port, uiPort: null });

    // 3. Nobody touches the worker: it reconnects, and the sweep finishes.
    const afterRestart = await connect(server.address);
    const result = await sweepResult(afterRestart, sweepId, 60_000);
    assert.deepEqual(result.counts, { queued: 0, running: 0, done: 6, failed: 0, cancelled: 0 });
    assert.ok(isRunning(worker.pid), `the worker stayed up:\n${worker.output()}`);

    const view = await withTimeout(readSweepStatus(afterRestart, sweepId), 10_000, 'status');
    assert.equal(view.status, 'COMPLETED');
  });
});
