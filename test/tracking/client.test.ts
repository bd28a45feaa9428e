import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';

import {
  clientOptionsFromEnv,
  MlflowClient,
  splitBatch,
  tagFilter,
  type MetricPoint,
} from '../../tracking/client.js';
import { ExperimentDeletedError, TrackingError } from '../../tracking/errors.js';
import type { MlflowServer } from '../../tracking/server.js';
import { captureLogger, silentLogger, startTestServer } from './helpers.js';

let server: MlflowServer;
let dispose: () => Promise<void>;
let client: MlflowClient;
let experimentId: string;

/** A fresh name per test, so tests sharing the server do not meet. */
let counter = 0;
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

async function rawPost(apiPath: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}/api/2.0/mlflow/${apiPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return await response.json();
}

async function newRun(runName = unique('run')) {
  return await client.createRun({ experimentId, runName });
}

/** A port nothing listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : -1;
}

describe('mlflow client', { timeout: 170_000 }, () => {
  before(async () => {
    ({ server, dispose } = await startTestServer());
    client = new MlflowClient({ trackingUri: server.url, logger: silentLogger });
    experimentId = (await client.getOrCreateExperiment(unique('client-tests'))).experimentId;
  }, { timeout: 130_000 });

  after(async () => {
    await dispose?.();
  });

  test('mlflow client - get-or-create returns one experiment even when called at once', {
    timeout: 60_000,
  }, async () => {
    const name = unique('sweep');

    const [first, second, third] = await Promise.all([
      client.getOrCreateExperiment(name, { tags: { owner: 'tests' } }),
      client.getOrCreateExperiment(name),
      client.getOrCreateExperiment(name),
    ]);

    assert.equal(first?.name, name);
    assert.equal(first?.lifecycleStage, 'active');
    assert.equal(second?.experimentId, first?.experimentId);
    assert.equal(third?.experimentId, first?.experimentId);
    assert.equal((await client.getOrCreateExperiment(name)).experimentId, first?.experimentId);
    assert.equal(await client.getExperimentByName(unique('missing')), undefined);
  });

  test('mlflow client - a name held by a deleted experiment is an error saying how to fix it', {
    timeout: 60_000,
  }, async () => {
    const name = unique('deleted');
    const experiment = await client.getOrCreateExperiment(name);
    await rawPost('experiments/delete', { experiment_id: experiment.experimentId });

    const error = await client.getOrCreateExperiment(name).then(
      () => assert.fail('expected ExperimentDeletedError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof ExperimentDeletedError);
    assert.equal(error.code, 'EXPERIMENT_DELETED');
    assert.equal(error.retryable, false);
    assert.equal(
      error.message,
      `experiment "${name}" (id ${experiment.experimentId}) is deleted in MLflow, ` +
        'and MLflow does not reuse the name of a deleted experiment',
    );
    assert.equal(
      error.hint,
      `Restore it with: mlflow experiments restore --experiment-id ${experiment.experimentId} ` +
        '(with MLFLOW_TRACKING_URI set to this server), or pick another experiment name.',
    );
  });

  test('mlflow client - a child run is nested under its parent and found by tag', async () => {
    const parent = await client.createRun({ experimentId, runName: 'sweep-parent' });
    const child = await client.createRun({
      experimentId,
      runName: 'trial-0001',
      parentRunId: parent.runId,
      tags: { 'sweep.trial': '0001' },
    });

    const fetched = await client.getRun(child.runId);
    assert.equal(fetched.info.runName, 'trial-0001');
    assert.equal(fetched.info.status, 'RUNNING');
    assert.equal(fetched.tags['mlflow.parentRunId'], parent.runId);
    assert.equal(fetched.tags['sweep.trial'], '0001');

    const children = await client.findRunsByTag([experimentId], 'mlflow.parentRunId', parent.runId);
    assert.deepEqual(
      children.map((run) => run.info.runId),
      [child.runId],
    );
  });

  test('mlflow client - logs 2,500 metrics and 250 params in one call, all present', async () => {
    const run = await newRun();
    const metrics: MetricPoint[] = [];
    for (let step = 0; step < 2500; step += 1) {
      metrics.push({ key: 'loss', value: 1 / (step + 1), step, timestampMs: 1_700_000_000_000 });
    }
    const params: Record<string, number> = {};
    for (let index = 0; index < 250; index += 1) {
      params[`p${index}`] = index;
    }

    await client.logBatch(run.runId, { metrics, params });

    const history = await client.getMetricHistory(run.runId, 'loss');
    assert.equal(history.length, 2500);
    assert.deepEqual(
      history.map((point) => point.step),
      metrics.map((point) => point.step),
    );
    assert.equal(history[2499]?.value, 1 / 2500);
    const fetched = await client.getRun(run.runId);
    assert.equal(Object.keys(fetched.params).length, 250);
    assert.equal(fetched.params.p249, '249');
  });

  test('mlflow client - batches are split within MLflow limits', () => {
    const metrics = Array.from({ length: 2500 }, (_, step) => ({
      key: 'm',
      value: step,
      step,
      timestampMs: 1,
    }));
    const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i]));
    const tags = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`t${i}`, 'x']));

    const requests = splitBatch({ metrics, params, tags });

    const shape = requests.map(({ body }) => [
      body.params.length,
      body.tags.length,
      body.metrics.length,
    ]);
    assert.deepEqual(shape, [
      [100, 0, 0],
      [50, 100, 0],
      [0, 20, 980],
      [0, 0, 1000],
      [0, 0, 520],
    ]);
    assert.equal(
      requests[1]?.summary,
      'params: p100, p101, p102, p103, p104, +45 more; tags: t0, t1, t2, t3, t4, +95 more',
    );

    // Large values are split by size too (MLflow refuses bodies over 1 MB).
    const entries = (prefix: string, length: number) =>
      Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [`${prefix}${i}`, '#'.repeat(length)]),
      );
    const big = entries('b', 6000);
    const bigTags = entries('c', 8000);
    const sized = splitBatch({ params: big, tags: bigTags });
    assert.equal(sized.length, 2);
    for (const request of sized) {
      assert.ok(JSON.stringify(request.body).length < 1_000_000);
    }
  });

  test('mlflow client - params become strings, tags overwrite, a changed param is refused', {
    timeout: 60_000,
  }, async () => {
    const run = await newRun();

    await client.logParams(run.runId, { lr: 0.001, batch_size: 32, augment: true });
    await client.setTags(run.runId, { phase: 'warmup', 'sweep.id': 'flowers-a' });
    await client.setTag(run.runId, 'phase', 'train');

    const fetched = await client.getRun(run.runId);
    assert.deepEqual(fetched.params, { lr: '0.001', batch_size: '32', augment: 'true' });
    assert.equal(fetched.tags.phase, 'train');
    assert.equal(fetched.tags['sweep.id'], 'flowers-a');

    // Logging the same value again is allowed; a different value is not.
    await client.logParams(run.runId, { lr: 0.001 });
    const error = await client.logParams(run.runId, { lr: 0.01 }).then(
      () => assert.fail('expected a TrackingError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TrackingError);
    assert.equal(error.code, 'TRACKING_REJECTED');
    assert.equal(error.status, 400);
    assert.equal(error.serverCode, 'INVALID_PARAMETER_VALUE');
    assert.equal(error.endpoint, 'POST /api/2.0/mlflow/runs/log-batch');
    assert.equal(error.subject, `run ${run.runId} (params: lr)`);
    assert.equal(
      error.message,
      `MLflow rejected POST /api/2.0/mlflow/runs/log-batch for run ${run.runId} (params: lr) ` +
        '(HTTP 400 INVALID_PARAMETER_VALUE: Changing param values is not allowed. Params were ' +
        `already logged='[{'key': 'lr', 'old_value': '0.001', 'new_value': '0.01'}]' for run ` +
        `ID='${run.runId}'.)`,
    );
  });

  test('mlflow client - ends a run with a status and an end time', async () => {
    const run = await newRun();
    const before = Date.now();

    const ended = await client.endRun(run.runId, 'FAILED');
    assert.equal(ended.status, 'FAILED');
    assert.ok((ended.endTimeMs ?? 0) >= before);

    const killed = await client.updateRun(run.runId, { status: 'KILLED', endTimeMs: before + 5 });
    assert.equal(killed.status, 'KILLED');
    assert.equal((await client.getRun(run.runId)).info.endTimeMs, before + 5);

    const found = await client.searchRuns({
      experimentIds: [experimentId],
      filter: `attributes.status = 'KILLED'`,
    });
    assert.ok(found.some((candidate) => candidate.info.runId === run.runId));
  });

  test('mlflow client - artifacts round-trip through the proxy: upload, list, download', {
    timeout: 60_000,
  }, async (t) => {
    const run = await newRun();
    const bytes = new Uint8Array(4096);
    for (let index = 0; index < bytes.length; index += 1) {
      bytes[index] = (index * 37) % 256;
    }

    await client.uploadArtifact(run.runId, 'checkpoints/epoch 1/weights.bin', bytes);
    await client.uploadArtifact(run.runId, 'summary.json', '{"accuracy":0.9}');

    const localDir = await mkdtemp(path.join(tmpdir(), 'sweep-artifacts-'));
    t.after(() => rm(localDir, { recursive: true, force: true }));
    await mkdir(path.join(localDir, 'group1'), { recursive: true });
    await writeFile(path.join(localDir, 'model.json'), '{"format":"layers-model"}');
    await writeFile(path.join(localDir, 'group1', 'shard1of1.bin'), Buffer.from([0, 1, 255]));
    const written = await client.uploadArtifactDir(run.runId, localDir, 'model');
    assert.deepEqual(written, ['model/group1/shard1of1.bin', 'model/model.json']);

    assert.deepEqual(await client.listArtifacts(run.runId), [
      { path: 'checkpoints', isDir: true, sizeBytes: undefined },
      { path: 'model', isDir: true, sizeBytes: undefined },
      { path: 'summary.json', isDir: false, sizeBytes: 16 },
    ]);
    const files = (await client.listArtifacts(run.runId, '', { recursive: true }))
      .filter((entry) => !entry.isDir)
      .map((entry) => entry.path);
    assert.deepEqual(files, [
      'checkpoints/epoch 1/weights.bin',
      'model/group1/shard1of1.bin',
      'model/model.json',
      'summary.json',
    ]);

    const downloaded = await client.downloadArtifact(run.runId, 'checkpoints/epoch 1/weights.bin');
    assert.deepEqual(downloaded, bytes);
    const text = new TextDecoder().decode(await client.downloadArtifact(run.runId, 'summary.json'));
    assert.equal(text, '{"accuracy":0.9}');

    await assert.rejects(client.downloadArtifact(run.runId, 'nope.bin'), {
      name: 'TrackingError',
      status: 404,
      serverCode: 'RESOURCE_DOES_NOT_EXIST',
    });
    await assert.rejects(client.uploadArtifact(run.runId, '../escape.txt', 'x'), {
      name: 'TrackingError',
      code: 'ARTIFACT_PATH_INVALID',
      message: 'artifact path "../escape.txt" is not a relative path inside the run\'s artifacts',
    });
  });

  test('mlflow client - registers model versions from a run, creating the model once', async () => {
    const run = await newRun();
    await client.uploadArtifact(run.runId, 'model/model.json', '{}');
    const name = unique('attention-cnn');

    const first = await client.registerModelVersion({
      name,
      runId: run.runId,
      artifactPath: 'model',
    });
    const info = (await client.getRun(run.runId)).info;
    const second = await client.registerModelVersion({
      name,
      runId: run.runId,
      source: `${info.artifactUri}/model`,
      description: 'best trial',
    });

    assert.deepEqual(first, {
      name,
      version: '1',
      source: `runs:/${run.runId}/model`,
      runId: run.runId,
      status: 'READY',
    });
    assert.equal(second.version, '2');
    assert.equal(second.source, `mlflow-artifacts:/${experimentId}/${run.runId}/artifacts/model`);
  });

  test('mlflow client - NaN and +/-Infinity are stored, and read back as they were logged', {
    timeout: 60_000,
  }, async () => {
    const run = await newRun();
    const points = [NaN, Infinity, -Infinity, 0.5].map((value, step) => ({
      key: 'loss',
      value,
      step,
      timestampMs: 1_700_000_000_000,
    }));

    await client.logMetrics(run.runId, points);

    const history = await client.getMetricHistory(run.runId, 'loss');
    assert.deepEqual(
      history.map((point) => point.value),
      [NaN, Infinity, -Infinity, 0.5],
    );

    // What the server itself answers: NaN as the proto3 string, infinities clamped.
    const raw = await fetch(
      `${server.url}/api/2.0/mlflow/metrics/get-history?run_id=${run.runId}&metric_key=loss`,
    );
    const values = ((await raw.json()) as { metrics: { value: unknown }[] }).metrics.map(
      (metric) => metric.value,
    );
    assert.deepEqual(values, ['NaN', 1.7976931348623157e308, -1.7976931348623157e308, 0.5]);
  });

  test('mlflow client - re-sending identical points stores them once', async () => {
    const run = await newRun();
    const points = [1, 2, 3].map((step) => ({
      key: 'acc',
      value: step / 10,
      step,
      timestampMs: 1_700_000_000_000 + step,
    }));

    await client.logMetrics(run.runId, points);
    await client.logMetrics(run.runId, points);

    assert.equal((await client.getMetricHistory(run.runId, 'acc')).length, 3);
  });

  test('mlflow client - an unknown run is a typed error naming the endpoint and run', async () => {
    const error = await client.getRun('0123456789abcdef0123456789abcdef').then(
      () => assert.fail('expected a TrackingError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TrackingError);
    assert.equal(error.retryable, false);
    assert.equal(
      error.message,
      'MLflow rejected GET /api/2.0/mlflow/runs/get for run 0123456789abcdef0123456789abcdef ' +
        '(HTTP 404 RESOURCE_DOES_NOT_EXIST: Run with id=0123456789abcdef0123456789abcdef not ' +
        'found)',
    );
  });

  test('mlflow client - an unreachable server is retried, then reported as retryable', async () => {
    const port = await closedPort();
    const capture = captureLogger();
    const offline = new MlflowClient({
      trackingUri: `http://127.0.0.1:${port}`,
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
      logger: capture.logger,
    });

    const error = await offline.getExperimentByName('x').then(
      () => assert.fail('expected a TrackingError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TrackingError);
    assert.equal(error.code, 'TRACKING_UNREACHABLE');
    assert.equal(error.retryable, true);
    assert.match(
      error.message,
      new RegExp(
        `^MLflow at http://127\\.0\\.0\\.1:${port} did not answer GET ` +
          '/api/2\\.0/mlflow/experiments/get-by-name for experiment "x" after 3 attempts in ' +
          '\\d+\\.\\d s \\(last: fetch failed: ECONNREFUSED\\)$',
      ),
    );
    const retries = capture.records.filter(
      (record) => record.msg === 'mlflow request failed, retrying',
    );
    assert.deepEqual(
      retries.map((record) => record.attempt),
      [1, 2],
    );
  });

  test('mlflow client - 5xx answers are retried until one succeeds', async (t) => {
    let calls = 0;
    const flaky = createServer((request, response) => {
      calls += 1;
      if (calls < 3) {
        response.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ experiment: { experiment_id: '7', name: 'x' } }));
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    t.after(() => flaky.close());
    const address = flaky.address();
    const port = typeof address === 'object' && address !== null ? address.port : -1;

    const flakyClient = new MlflowClient({
      trackingUri: `http://127.0.0.1:${port}`,
      retry: { initialDelayMs: 5, maxDelayMs: 10 },
      logger: silentLogger,
    });

    assert.equal((await flakyClient.getExperimentByName('x'))?.experimentId, '7');
    assert.equal(calls, 3);
  });

  test('mlflow client - credentials are sent but never logged or shown in errors', async (t) => {
    const seen: IncomingHttpHeaders[] = [];
    const echo = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'boom' }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    t.after(() => echo.close());
    const address = echo.address();
    const port = typeof address === 'object' && address !== null ? address.port : -1;

    const capture = captureLogger();
    const retry = { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 };
    const basic = new MlflowClient({
      trackingUri: `http://alice:pw-SECRET-1@127.0.0.1:${port}/`,
      retry,
      logger: capture.logger,
    });
    const bearer = MlflowClient.fromEnv(
      { MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`, MLFLOW_TRACKING_TOKEN: 'tok-SECRET-2' },
      { retry, logger: capture.logger },
    );

    const errors = await Promise.all([
      basic.getRun('r1').catch((error: unknown) => error),
      bearer.getRun('r2').catch((error: unknown) => error),
    ]);

    assert.equal(basic.url, `http://127.0.0.1:${port}`);
    const basicToken = Buffer.from('alice:pw-SECRET-1').toString('base64');
    assert.equal(seen[0]?.authorization, `Basic ${basicToken}`);
    assert.ok(seen.some((headers) => headers.authorization === 'Bearer tok-SECRET-2'));

    const shown = [
      capture.text(),
      inspect(basic),
      inspect(bearer),
      ...errors.map((error) => inspect(error)),
    ];
    assert.ok(capture.records.length >= 2);
    for (const text of shown) {
      assert.doesNotMatch(text, /SECRET|alice:|YWxpY2U6/);
    }
  });

  test('mlflow client - options come from MLFLOW_TRACKING_* variables', () => {
    assert.deepEqual(
      clientOptionsFromEnv({
        MLFLOW_TRACKING_URI: 'http://mlflow:5000',
        MLFLOW_TRACKING_USERNAME: 'u',
        MLFLOW_TRACKING_PASSWORD: 'p',
      }),
      { trackingUri: 'http://mlflow:5000', token: undefined, username: 'u', password: 'p' },
    );
    assert.throws(() => clientOptionsFromEnv({}), {
      name: 'ConfigError',
      message: 'MLFLOW_TRACKING_URI is not set, so there is no MLflow server to use',
    });
    assert.throws(() => new MlflowClient({ trackingUri: 'sqlite:///mlflow.db' }), {
      name: 'ConfigError',
      message:
        'the MLflow tracking URI must be http or https, got sqlite: in "sqlite:///mlflow.db"',
    });
    assert.throws(() => new MlflowClient({ trackingUri: 'http://h', username: 'u' }), {
      name: 'ConfigError',
      message: 'an MLflow password is missing: Basic auth needs both',
    });
    assert.throws(() => new MlflowClient({ trackingUri: 'http://h', retry: { maxAttempts: 0 } }), {
      name: 'ConfigError',
      message: 'invalid MLflow retry policy: maxAttempts must be an integer >= 1, got 0',
    });
  });

  test('mlflow client - tag filters quote values MLflow can parse', async () => {
    assert.equal(tagFilter('sweep.trial', "it's"), 'tags.`sweep.trial` = "it\'s"');
    assert.throws(() => tagFilter('k', `'"`), { name: 'ConfigError' });

    const run = await client.createRun({ experimentId, tags: { note: "it's fine" } });
    const found = await client.findRunsByTag([experimentId], 'note', "it's fine");
    assert.deepEqual(
      found.map((candidate) => candidate.info.runId),
      [run.runId],
    );
  });
});
