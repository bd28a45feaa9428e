import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import { ConfigError, SweepError } from '../../lib/errors.js';
import { MlflowServerError } from '../../tracking/errors.js';
import { resolveMlflowBin, startMlflowServer } from '../../tracking/server.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sweep-mlflow-server-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function listen(port = 0): Promise<Server> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port }, resolve));
  return holder;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('mlflow server', () => {
  test('mlflow server - starts on a free port, answers /health and stops its process group', {
    timeout: 150_000,
  }, async (t) => {
    const stateDir = await tempDir(t);
    const server = await startMlflowServer({ stateDir, startTimeoutMs: 120_000 });
    t.after(() => server.stop());

    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    assert.ok(server.startupMs > 0);
    t.diagnostic(`mlflow server start-up took ${server.startupMs} ms`);

    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.text()).trim(), 'OK');

    await server.stop();
    assert.equal(groupAlive(server.pid), false);
    await assert.rejects(fetch(`${server.url}/health`));

    // The port is free again: something else can listen on it.
    const holder = await listen(server.port);
    holder.close();
  });

  test('mlflow server - refuses a port in use with a message naming the port', async (t) => {
    const stateDir = await tempDir(t);
    const holder = await listen();
    t.after(() => holder.close());
    const address = holder.address();
    const port = typeof address === 'object' && address !== null ? address.port : -1;

    const error = await startMlflowServer({ stateDir, port }).then(
      () => assert.fail('expected a SweepError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SweepError);
    assert.equal(error.retryable, true, 'exit 4, as a taken Temporal port');
    assert.equal(
      error.message,
      `port ${port} on 127.0.0.1 is already in use, so the MLflow server cannot listen there`,
    );
    assert.equal(
      error.hint,
      `Stop what listens there (\`ss -ltnp 'sport = :${port}'\` shows it), pick another port ` +
        'with SWEEP_MLFLOW_PORT (or mlflowPort in sweep.config.yaml; 0 picks a free one), or ' +
        'pass --tracking-uri to use a running server.',
    );
  });

  test('mlflow server - a server that exits during start-up is reported with its log tail', {
    timeout: 30_000,
  }, async (t) => {
    const stateDir = await tempDir(t);
    const fakeBin = path.join(stateDir, 'fake-mlflow');
    await writeFile(fakeBin, '#!/bin/sh\necho "Error: no such option: --bogus" >&2\nexit 2\n');
    await chmod(fakeBin, 0o755);

    const error = await startMlflowServer({ stateDir, mlflowBin: fakeBin }).then(
      () => assert.fail('expected an MlflowServerError'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof MlflowServerError);
    const logFile = path.join(stateDir, 'mlflow-server.log');
    assert.equal(
      error.message,
      'the MLflow server exited with code 2 during start-up\n' +
        `--- last lines of ${logFile} ---\n` +
        'Error: no such option: --bogus',
    );
    assert.equal(error.hint, `Read the server log: ${logFile}`);
  });

  test('mlflow server - a missing executable is a ConfigError naming the path', async (t) => {
    const stateDir = await tempDir(t);
    const missing = path.join(stateDir, 'no-such-mlflow');

    await assert.rejects(startMlflowServer({ stateDir, mlflowBin: missing }), {
      name: 'ConfigError',
      message: `the mlflow executable ${missing} is missing or not executable`,
    });
  });

  test('mlflow server - rejects an out-of-range port before starting anything', async (t) => {
    const stateDir = await tempDir(t);

    await assert.rejects(startMlflowServer({ stateDir, port: 70_000 }), {
      name: 'ConfigError',
      message: 'invalid MLflow server options: port must be an integer from 0 to 65535, got 70000',
    });
  });

  test('mlflow server - the executable comes from SWEEP_MLFLOW_BIN, then SWEEP_CACHE_DIR', () => {
    assert.equal(resolveMlflowBin({ SWEEP_MLFLOW_BIN: '/opt/mlflow' }), '/opt/mlflow');
    assert.equal(
      resolveMlflowBin({ SWEEP_CACHE_DIR: '/cache' }),
      '/cache/mlflow-venv/bin/mlflow',
    );
    assert.match(resolveMlflowBin({}), /\/\.cache\/attention-sweep\/mlflow-venv\/bin\/mlflow$/);
  });
});
