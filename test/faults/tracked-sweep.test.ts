/**
 * Faults of tracked sweeps, end to end with real servers (Temporal dev server, MLflow, a
 * `sweep worker` process) and the CLI: `sweep cancel` while real trials run, then
 * `sweep resume`; and MLflow unreachable for part of a trial. Nothing is lost or recorded
 * twice: one MLflow run per trial, one point per epoch and metric.
 *
 * The outage goes through a TCP proxy in front of MLflow that refuses connections for a
 * while, as a stopped server or a broken network would; restarting MLflow itself takes about
 * ten seconds on this machine, and the client sees the same thing. With the servers up, it
 * also checks that each of them listens on loopback only.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Connection } from '@temporalio/client';

import { loadSpec } from '../../spec/load.js';
import { planTrials } from '../../spec/plan.js';
import { findFreePort, startDevServer, type DevServer } from '../../temporal/dev-server.js';
import { MlflowClient } from '../../tracking/client.js';
import { startMlflowServer, type MlflowServer } from '../../tracking/server.js';
import { TAGS } from '../../tracking/tags.js';
import { runCli } from '../integration/temporal-harness.js';
import {
  NO_FLOWERS,
  isRunning,
  listeningAddresses,
  processGroup,
  readMetrics,
  runFolder,
  startWorker,
  sweepResult,
  tinySpec,
  trialChildOf,
  waitFor,
  type WorkerProcess,
} from './fault-harness.js';

const EXECUTION = (heartbeat: number, slowBatchMs: number) =>
  [
    '  concurrency: 2',
    `  heartbeatTimeoutSeconds: ${heartbeat}`,
    '  retry:',
    '    maximumAttempts: 3',
    '    initialIntervalSeconds: 1',
    '  testOnly:',
    `    slowBatchMs: ${slowBatchMs}`,
  ].join('\n');

/** A TCP proxy to `targetPort` that can refuse every connection for a while. */
class OutageProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  /** Accepts and forwards connections. */
  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  /** Closes the port and cuts open connections: callers get ECONNREFUSED or a reset. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}

describe('tracked sweeps under faults', { timeout: 240_000, skip: NO_FLOWERS }, () => {
  let dir: string;
  let stateDir: string;
  let temporal: DevServer;
  let connection: Connection;
  let client: Client;
  let mlflowServer: MlflowServer;
  let mlflow: MlflowClient;
  let proxy: OutageProxy;
  let worker: WorkerProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-fault-tracked-'));
    stateDir = join(dir, 'state');
    [temporal, mlflowServer] = await Promise.all([
      startDevServer({ stateDir: join(dir, 'temporal'), port: 0, uiPort: null }),
      startMlflowServer({ stateDir: join(dir, 'mlflow'), startTimeoutMs: 120_000 }),
    ]);
    connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection });
    mlflow = new MlflowClient({ trackingUri: mlflowServer.url });

    proxy = new OutageProxy(await findFreePort(), mlflowServer.port);
    await proxy.up();
    worker = startWorker(
      temporal.address,
      { SWEEP_STATE_DIR: stateDir, SWEEP_LOG_LEVEL: 'error' },
      { slots: 2, tracking: `http://127.0.0.1:${proxy.port}`, metrics: true },
    );
    await worker.ready;
  });

  after(async () => {
    await worker?.kill();
    await proxy?.down();
    await connection?.close();
    await Promise.all([temporal?.stop(), mlflowServer?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** `sweep <args>` against the test's servers (MLflow through the proxy). */
  function sweep(args: string[], timeoutMs = 90_000) {
    return runCli([...args, '--temporal-address', temporal.address], {
      cwd: dir,
      env: { ...process.env, SWEEP_STATE_DIR: stateDir, SWEEP_LOG_LEVEL: 'error' },
      timeoutMs,
    });
  }

  /** `sweep start <file> --detach` with MLflow through the proxy; the sweep and trial ids. */
  async function startDetached(file: string, text: string) {
    await writeFile(join(dir, file), text);
    const uri = `http://127.0.0.1:${proxy.port}`;
    const started = await sweep(['start', file, '--detach', '--tracking-uri', uri]);
    const sweepId = /started sweep (\S+): /.exec(started.stdout)?.[1];
    assert.ok(sweepId !== undefined, started.stdout + started.stderr);

    const plan = planTrials(await loadSpec(join(dir, file)));
    assert.equal(plan.sweepId, sweepId);
    return { sweepId, ids: plan.trials.map((trial) => trial.id) };
  }

  /** The trial runs of a sweep, by trial id (fails if a trial has two). */
  async function trialRuns(sweepName: string, sweepId: string) {
    const experiment = await mlflow.getExperimentByName(sweepName);
    assert.ok(experiment !== undefined, `experiment ${sweepName}`);
    const runs = await mlflow.searchRuns({
      experimentIds: [experiment.experimentId],
      filter: `tags.\`${TAGS.sweepId}\` = '${sweepId}'`,
    });

    const byTrial = new Map<string, (typeof runs)[number]>();
    let parent: (typeof runs)[number] | undefined;
    for (const run of runs) {
      const trialId = run.tags[TAGS.trialId];
      if (trialId === undefined) {
        parent = run;
        continue;
      }
      assert.ok(!byTrial.has(trialId), `one run per trial, ${trialId} has two`);
      byTrial.set(trialId, run);
    }
    return { parent, byTrial };
  }

  /** Asserts one point per epoch (steps 1..epochs) for each per-epoch metric of a run. */
  async function assertEpochsOnce(runId: string, epochs: number): Promise<void> {
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'learning_rate']) {
      const points = await mlflow.getMetricHistory(runId, key);
      const steps = points.map((point) => point.step).sort((a, b) => a - b);
      assert.deepEqual(steps, Array.from({ length: epochs }, (_, i) => i + 1), key);
    }
  }

  test('tracked servers - Temporal, MLflow and worker metrics listen on loopback only',
    (t) => {
      const servers = {
        temporal: [temporal.pid],
        mlflow: processGroup(mlflowServer.pid),
        worker: [worker!.pid],
      };

      for (const [name, pids] of Object.entries(servers)) {
        const addresses = listeningAddresses(pids);
        if (addresses === undefined) {
          t.skip('ss is not installed');
          return;
        }

        assert.ok(addresses.length > 0, `${name} listens somewhere`);
        for (const address of addresses) assert.match(address, /^127\.0\.0\.1:\d+$/, name);
      }
    });

  test('tracked cancel - running trials stop within a heartbeat, end KILLED, resume finishes',
    async () => {
      const spec = tinySpec({
        name: 'cancel-resume',
        epochs: 5,
        perClass: 8,
        batchSize: 10,
        grid: '  training.learningRate: [0.001, 0.002]',
        // Epochs of about 3 s, four to go at the cancel: it lands well before the trials end.
        execution: EXECUTION(5, 700),
      });
      const { sweepId, ids } = await startDetached('cancel.yaml', spec);

      // 1. Cancel once both trials have their epoch 1 checkpoint (two epochs to go).
      await waitFor(
        () =>
          ids.every((id) =>
            existsSync(join(runFolder(stateDir, sweepId, id), 'checkpoint', 'state.json')),
          ) || undefined,
        60_000,
        'epoch 1 of both trials',
      );
      const cancelStartedMs = Date.now();
      const cancelled = await sweep(['cancel', sweepId]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(
        cancelled.stdout,
        new RegExp(
          `^cancelling sweep ${sweepId}: 0 queued trial\\(s\\) cancelled; running trials stop ` +
            'within a heartbeat and end as cancelled$',
          'm',
        ),
      );

      // 2. Their processes stop within a heartbeat or two (the SDK sends one at least every
      // 2 s; then the batch in flight ends and the process exits). Bounded loosely: a slow CI
      // machine must not fail it, and the result below shows the trials ended cancelled.
      await waitFor(
        () => (trialChildOf(worker!.pid) === undefined ? true : undefined),
        15_000,
        'the trial processes to stop after the cancel',
      );
      const stoppedMs = Date.now() - cancelStartedMs;
      assert.ok(stoppedMs < 15_000, `stopped ${stoppedMs} ms after the cancel was started`);

      const result = await sweepResult(client, sweepId, 30_000);
      assert.deepEqual(result.counts, { queued: 0, running: 0, done: 0, failed: 0, cancelled: 2 });
      for (const row of result.trials) assert.equal(row.error, 'cancelled while running');

      const killed = await trialRuns('cancel-resume', sweepId);
      assert.deepEqual(
        [...killed.byTrial.values()].map((run) => run.info.status),
        ['KILLED', 'KILLED'],
      );
      assert.equal(killed.parent?.info.status, 'KILLED');

      // 3. Resume: both trials continue from their checkpoint and finish, in the same runs.
      const resumed = await sweep(['resume', sweepId], 120_000);
      assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
      assert.match(resumed.stdout, /re-queued 2 trial\(s\) in a new run of the sweep/);
      assert.match(resumed.stdout, /completed: 2 done, 0 running, 0 failed, 0 cancelled/);

      const finished = await trialRuns('cancel-resume', sweepId);
      assert.equal(finished.parent?.info.status, 'FINISHED');
      for (const id of ids) {
        const run = finished.byTrial.get(id);
        assert.equal(run?.info.runId, killed.byTrial.get(id)?.info.runId, 'the same run');
        assert.equal(run?.info.status, 'FINISHED');
        await assertEpochsOnce(run.info.runId, 5);
        assert.ok(readMetrics(runFolder(stateDir, sweepId, id)).resumedFromEpoch >= 1);
      }
    });

  test('tracked outage - MLflow unreachable mid-trial loses and duplicates nothing',
    async () => {
      const spec = tinySpec({
        name: 'mlflow-outage',
        epochs: 3,
        perClass: 8,
        batchSize: 10,
        execution: EXECUTION(10, 500),
      });
      const { sweepId, ids } = await startDetached('outage.yaml', spec);
      const trialId = ids[0]!;
      const checkpoint = join(runFolder(stateDir, sweepId, trialId), 'checkpoint', 'state.json');
      const epochsDone = (): number =>
        existsSync(checkpoint)
          ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { state: { epochsDone: number } })
              .state.epochsDone
          : 0;

      // 1. MLflow goes away after epoch 1 and comes back after epoch 2 was trained.
      await waitFor(() => (epochsDone() >= 1 ? true : undefined), 60_000, 'epoch 1');
      await proxy.down();
      await waitFor(() => (epochsDone() >= 2 ? true : undefined), 60_000, 'epoch 2');
      await proxy.up();

      // 2. The trial finishes in one attempt; its run holds each epoch once.
      const result = await sweepResult(client, sweepId, 120_000);
      assert.deepEqual(result.counts, { queued: 0, running: 0, done: 1, failed: 0, cancelled: 0 });
      assert.equal(result.trials[0]!.attempts, 1);

      const { parent, byTrial } = await trialRuns('mlflow-outage', sweepId);
      const run = byTrial.get(trialId);
      assert.equal(run?.info.status, 'FINISHED');
      await assertEpochsOnce(run.info.runId, 3);
      assert.equal(parent?.info.status, 'FINISHED');
      assert.ok(isRunning(worker!.pid), worker!.output());
    });
});
