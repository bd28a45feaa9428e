import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';

import { ConfigError } from '../../lib/errors.js';
import { logger } from '../../lib/logger.js';
import { startMetricsServer } from '../../metrics/server.js';
import { createWorkerMetrics } from '../../metrics/worker-metrics.js';
import { parseExposition, valueOf } from './helpers.js';

describe('startMetricsServer', { timeout: 20_000 }, () => {
  test('serves the registry at /metrics on loopback, on a free port for 0', async (t) => {
    const metrics = createWorkerMetrics({ workerId: 'w' });
    metrics.trialStarted('dropout');
    const server = await startMetricsServer({ port: 0, registry: metrics.registry });
    t.after(() => server.close());

    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/metrics`);

    const response = await fetch(server.url);
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get('content-type'),
      'text/plain; version=0.0.4; charset=utf-8',
    );
    const samples = parseExposition(await response.text());
    assert.equal(valueOf(samples, 'sweep_trials_started_total', { sweep: 'dropout' }), 1);
  });

  test('answers /healthz, and 404 or 405 with a pointer for anything else', async (t) => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    const server = await startMetricsServer({ port: 0, registry: metrics.registry });
    t.after(() => server.close());
    const base = server.url.replace(/\/metrics$/, '');

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');

    const missing = await fetch(`${base}/stats`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'no such path /stats: metrics are at /metrics\n');

    const posted = await fetch(server.url, { method: 'POST' });
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get('allow'), 'GET, HEAD');
  });

  test('answers 500 and keeps serving when a collect() throws', async (t) => {
    const metrics = createWorkerMetrics({
      workerId: 'w',
      defaultMetrics: false,
      tensorMemory: () => {
        throw new Error('tensor memory unavailable');
      },
    });
    const server = await startMetricsServer({ port: 0, registry: metrics.registry });
    t.after(() => server.close());

    // The server logs the failure as a warning; keep the test output clean.
    const level = logger.level;
    logger.level = 'silent';
    t.after(() => {
      logger.level = level;
    });

    const failed = await fetch(server.url);
    assert.equal(failed.status, 500);
    assert.equal(
      await failed.text(),
      'metrics collection failed: Error: tensor memory unavailable\n',
    );
    assert.equal((await fetch(server.url.replace('/metrics', '/healthz'))).status, 200);
  });

  test('says which port is taken and how to find who holds it', async (t) => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as { port: number }).port;
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });

    await assert.rejects(
      startMetricsServer({ port, registry: metrics.registry }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message === `the metrics port ${port} on 127.0.0.1 is already in use` &&
        error.hint ===
          `Pass another --metrics-port, or find the process that holds it: ` +
            `ss -ltnp 'sport = :${port}'`,
    );
  });

  test('rejects a port outside 0-65535 and an address this machine lacks', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });

    await assert.rejects(startMetricsServer({ port: 70000, registry: metrics.registry }), {
      name: 'ConfigError',
      message: 'the metrics port must be a whole number from 0 to 65535, got 70000',
    });
    await assert.rejects(
      startMetricsServer({ host: '203.0.113.7', port: 0, registry: metrics.registry }),
      {
        name: 'ConfigError',
        message: 'cannot serve metrics on 203.0.113.7: this machine has no such address',
      },
    );
  });

  test('closes once even when asked twice', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w', defaultMetrics: false });
    const server = await startMetricsServer({ port: 0, registry: metrics.registry });
    const keepAlive = await fetch(server.url);
    await keepAlive.text();

    await Promise.all([server.close(), server.close()]);
    await assert.rejects(fetch(server.url));
  });
});
