import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { MlflowClient } from '../../tracking/client.js';
import { TrackingError } from '../../tracking/errors.js';
import { INFINITE_METRICS_TAG, MetricBuffer } from '../../tracking/metric-buffer.js';
import { startMlflowServer, type MlflowServer } from '../../tracking/server.js';
import { captureLogger, silentLogger, startTestServer } from './helpers.js';

let server: MlflowServer;
let stateDir: string;
let dispose: () => Promise<void>;
let client: MlflowClient;
let experimentId: string;

async function newRun(): Promise<string> {
  return (await client.createRun({ experimentId })).runId;
}

async function steps(runId: string, key: string): Promise<number[]> {
  return (await client.getMetricHistory(runId, key)).map((point) => point.step);
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : -1;
}

describe('metric buffer', { timeout: 170_000 }, () => {
  before(async () => {
    ({ server, stateDir, dispose } = await startTestServer());
    client = new MlflowClient({ trackingUri: server.url, logger: silentLogger });
    experimentId = (await client.getOrCreateExperiment('metric-buffer-tests')).experimentId;
  }, { timeout: 130_000 });

  after(async () => {
    // The outage test replaces `server`; whichever runs last is stopped here.
    await server?.stop();
    await dispose?.();
  });

  test('metric buffer - the last value for a step wins, and a sent step is not sent again', {
    timeout: 60_000,
  }, async () => {
    const runId = await newRun();
    const buffer = new MetricBuffer(client, runId, {
      flushIntervalMs: 60_000,
      logger: silentLogger,
    });

    assert.equal(await buffer.log('loss', 0.9, 1), 'queued');
    assert.equal(await buffer.log('loss', 0.8, 1), 'replaced');
    assert.equal(await buffer.log('loss', 0.7, 2), 'queued');
    await buffer.flush(30_000);
    assert.equal(await buffer.log('loss', 0.1, 1), 'already-sent');
    await buffer.close(30_000);

    const history = await client.getMetricHistory(runId, 'loss');
    assert.deepEqual(
      history.map((point) => [point.step, point.value]),
      [
        [1, 0.8],
        [2, 0.7],
      ],
    );
    assert.deepEqual(buffer.sentSteps('loss'), [1, 2]);
    assert.deepEqual(buffer.stats(), {
      queued: 0,
      inFlight: 0,
      delivered: 2,
      failedAttempts: 0,
      closed: true,
    });
  });

  test('metric buffer - a resumed buffer skips the steps the server already has', async () => {
    const runId = await newRun();
    const first = new MetricBuffer(client, runId, { logger: silentLogger });
    for (let step = 0; step < 5; step += 1) {
      await first.log('val_accuracy', step / 10, step);
    }
    await first.close(30_000);

    const resumed = await MetricBuffer.fromServer(client, runId, ['val_accuracy', 'lr'], {
      logger: silentLogger,
    });
    const outcomes = [];
    for (let step = 3; step < 8; step += 1) {
      outcomes.push(await resumed.log('val_accuracy', step, step));
    }
    await resumed.close(30_000);

    assert.deepEqual(outcomes, ['already-sent', 'already-sent', 'queued', 'queued', 'queued']);
    assert.deepEqual(await steps(runId, 'val_accuracy'), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('metric buffer - log() waits for room once maxPendingPoints are waiting', async () => {
    const runId = await newRun();
    const buffer = new MetricBuffer(client, runId, {
      maxPendingPoints: 3,
      flushIntervalMs: 60_000,
      logger: silentLogger,
    });

    for (let step = 0; step < 3; step += 1) {
      await buffer.log('loss', step, step);
    }
    assert.equal(buffer.stats().delivered, 0);
    await buffer.log('loss', 3, 3);
    assert.equal(buffer.stats().delivered, 4);
    await buffer.close(30_000);
  });

  test('metric buffer - NaN and Infinity reach MLflow, with a tag explaining Infinity', {
    timeout: 60_000,
  }, async () => {
    const runId = await newRun();
    const buffer = new MetricBuffer(client, runId, { logger: silentLogger });

    await buffer.log('loss', 2.5, 0);
    await buffer.log('loss', Infinity, 1);
    await buffer.log('loss', NaN, 2);
    await buffer.log('grad_norm', -Infinity, 0);
    await buffer.close(30_000);

    const history = await client.getMetricHistory(runId, 'loss');
    assert.deepEqual(
      history.map((point) => point.value),
      [2.5, Infinity, NaN],
    );
    assert.equal((await client.getMetricHistory(runId, 'grad_norm'))[0]?.value, -Infinity);
    assert.equal(
      (await client.getRun(runId)).tags[INFINITE_METRICS_TAG],
      "grad_norm, loss: MLflow's SQL store cannot hold Infinity, so +/-Infinity is stored as " +
        '+/-1.7976931348623157e308',
    );
  });

  test('metric buffer - an invalid point is refused at once with the reason', async () => {
    const buffer = new MetricBuffer(client, 'unused', { logger: silentLogger });

    await assert.rejects(buffer.log('val/../loss', 1, 0.5), {
      name: 'TrackingError',
      code: 'METRIC_INVALID',
      message:
        'invalid metric point: key "val/../loss" may only hold letters, digits, _ - . / : and ' +
        'spaces, without empty, "." or ".." path segments; step must be an integer, got 0.5',
    });
    await buffer.close(1000);
    await assert.rejects(buffer.log('loss', 1, 0), { code: 'METRIC_BUFFER_CLOSED' });
  });

  test('metric buffer - a run MLflow refuses fails flush() with a typed error', async (t) => {
    const runId = await newRun();
    await fetch(`${server.url}/api/2.0/mlflow/runs/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ run_id: runId }),
    });
    const buffer = new MetricBuffer(client, runId, { logger: silentLogger });

    await buffer.log('loss', 1, 0);
    const error = await buffer.flush(30_000).then(
      () => assert.fail('expected a TrackingError'),
      (caught: unknown) => caught,
    );

    assert.ok(error instanceof TrackingError);
    t.diagnostic(error.message);
    assert.equal(error.code, 'METRICS_UNDELIVERED');
    assert.match(
      error.message,
      new RegExp(`^1 metric point of run ${runId} could not be stored: MLflow refused them `),
    );
    await assert.rejects(buffer.log('loss', 2, 1), { code: 'METRICS_UNDELIVERED' });
  });

  test('metric buffer - gives up after maxOutageMs without a server', async () => {
    const offline = new MlflowClient({
      trackingUri: `http://127.0.0.1:${await closedPort()}`,
      logger: silentLogger,
    });
    const buffer = new MetricBuffer(offline, 'r1', {
      flushIntervalMs: 10,
      maxOutageMs: 300,
      retryInitialDelayMs: 20,
      retryMaxDelayMs: 50,
      logger: silentLogger,
    });

    await buffer.log('loss', 1, 0);
    await assert.rejects(buffer.close(10_000), {
      code: 'METRICS_UNDELIVERED',
      message: /^1 metric point of run r1 could not be stored: MLflow could not be reached for/,
    });
  });

  test('metric buffer - every point arrives exactly once through a server outage', {
    timeout: 150_000,
  }, async (t) => {
    const runId = await newRun();
    const capture = captureLogger();
    const buffer = new MetricBuffer(client, runId, {
      flushIntervalMs: 100,
      maxBatchPoints: 20,
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 1000,
      logger: capture.logger,
    });

    // A trainer logging two metrics every 25 ms, with a duplicate of each step now and then.
    let step = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        await buffer.log('loss', 1 / (step + 1), step);
        await buffer.log('accuracy', step / 1000, step);
        if (step % 7 === 0) {
          await buffer.log('loss', 1 / (step + 1), step);
        }
        step += 1;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 1000));
    const port = server.port;
    await server.stop();
    const outageStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5000));
    server = await startMlflowServer({ stateDir, port, startTimeoutMs: 120_000 });
    const outageMs = Math.round(performance.now() - outageStart);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    producing = false;
    await producer;
    await buffer.close(60_000);

    const expected = Array.from({ length: step }, (_, index) => index);
    assert.deepEqual(await steps(runId, 'loss'), expected);
    assert.deepEqual(await steps(runId, 'accuracy'), expected);
    assert.ok(buffer.stats().failedAttempts > 0);
    assert.ok(outageMs >= 5000);
    t.diagnostic(
      `${step} steps of 2 metrics through a ${outageMs} ms outage, ` +
        `${buffer.stats().failedAttempts} failed attempts`,
    );

    const messages = capture.records.map((record) => record.msg);
    assert.ok(messages.includes('metric delivery failing, retrying'));
    assert.ok(messages.includes('metric delivery recovered'));
  });
});
