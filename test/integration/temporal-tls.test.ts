/**
 * A Temporal cluster reached over TLS with a client certificate and an API key: the real dev
 * server behind a gateway that checks both (./tls-gateway.ts). `sweep start` and a remote
 * `sweep worker` run a sweep of no-op trials through it; the settings come from the
 * environment, as on a cluster; a missing CA or a wrong key gets a clear error.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchCli, runCli, startTestTemporal, type TestTemporal } from './temporal-harness.js';
import {
  makeCertificates,
  startTlsGateway,
  type TestCertificates,
  type TlsGateway,
} from './tls-gateway.js';

// No-op trials never read the dataset, but `sweep start` checks it before starting anything.
const FLOWERS = fileURLToPath(new URL('../../../shared/datasets/flowers', import.meta.url));
const API_KEY = 'test-api-key-8d1f0c';

const SPEC = `name: secured
dataset:
  root: ${FLOWERS}
  imageSize: 32
  maxPerClass: 2
grid:
  model.attention: [none, block1, block2]
execution:
  taskQueue: secured
  concurrency: 3
`;

describe('a cluster behind TLS, a client certificate and an API key', { timeout: 180_000 }, () => {
  let temporal: TestTemporal;
  let certificates: TestCertificates;
  let gateway: TlsGateway;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    temporal = await startTestTemporal();
    certificates = await makeCertificates();
    const target = temporal.server.address;
    gateway = await startTlsGateway({ target, certificates, apiKey: API_KEY });
    dir = await mkdtemp(join(tmpdir(), 'sweep-tls-cli-'));
    await writeFile(join(dir, 'secured.yaml'), SPEC);

    env = {
      ...process.env,
      TEMPORAL_ADDRESS: gateway.address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certificates.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certificates.clientKey,
      // No Temporal config file of the user's may change what the test sees.
      TEMPORAL_CONFIG_FILE: '/dev/null',
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_API_KEY: API_KEY,
      SWEEP_STATE_DIR: join(dir, 'state'),
      SWEEP_LOG_LEVEL: 'info',
    };
    delete env.MLFLOW_TRACKING_URI;
  });

  after(async () => {
    await gateway?.close();
    await temporal?.close();
    if (certificates !== undefined) await rm(certificates.dir, { recursive: true, force: true });
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('tls - sweep start and a remote worker run a sweep through the gateway', async () => {
    const worker = launchCli(
      ['worker', '--trial-kind', 'noop', '--task-queue', 'secured', '--slots', '3', '--no-metrics'],
      { cwd: dir, env },
    );
    let workerOutput = '';
    worker.stdout.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (workerOutput += chunk.toString()));
    const workerClosed = new Promise((resolve) => worker.on('close', resolve));

    try {
      const args = ['start', 'secured.yaml', '--trial-kind', 'noop', '--no-tracking'];
      const run = await runCli(args, { cwd: dir, env, timeoutMs: 120_000 });
      assert.equal(run.code, 0, run.stdout + run.stderr + workerOutput);
      assert.match(run.stdout, /completed: 3 done, 0 running, 0 failed, 0 cancelled, 0 queued/);

      const sweepId = /started sweep (secured-\w+)/.exec(run.stdout)?.[1] ?? 'not printed';
      const status = await runCli(['status', sweepId], { cwd: dir, env });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^sweep secured-\w+: completed, 3 done/m);

      const printed = `${run.stdout}${run.stderr}${status.stdout}${workerOutput}`;
      assert.ok(!printed.includes(API_KEY), 'the key is never printed');
      assert.doesNotMatch(printed, /DeprecationWarning/, 'no warning about IP server names');
    } finally {
      worker.kill('SIGTERM');
      await workerClosed;
    }

    assert.ok(gateway.calls.forwarded > 10, `forwarded ${gateway.calls.forwarded} calls`);
    assert.equal(gateway.calls.refused, 0, 'every call of the CLI and the worker had the key');
  });

  test('tls - a server certificate from an unknown CA: exit 4, says what to check', async () => {
    const untrusting = { ...env };
    delete untrusting.TEMPORAL_TLS_SERVER_CA_CERT_PATH;

    const run = await runCli(['list'], { cwd: dir, env: untrusting, timeoutMs: 60_000 });
    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`^error: cannot reach Temporal at ${gateway.address} `));
    assert.match(run.stderr, /: TLS: the server's certificate is not signed by a CA trusted here/);
    assert.match(run.stderr, /^hint: Check the TLS settings: TEMPORAL_TLS_SERVER_CA_CERT_PATH /m);
  });

  test('tls - a wrong API key: exit 4, the gateway refused it, the key unprinted', async () => {
    const refusedBefore = gateway.calls.refused;
    const run = await runCli(['list'], {
      cwd: dir,
      env: { ...env, TEMPORAL_API_KEY: 'wrong-key-5e2a' },
      timeoutMs: 60_000,
    });

    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.match(run.stderr, /invalid API key/);
    assert.match(run.stderr, /^hint: The cluster refused the credentials/m);
    assert.ok(gateway.calls.refused > refusedBefore);
    assert.ok(!run.stderr.includes('wrong-key-5e2a'));
  });

  test('tls - TEMPORAL_TLS=false sends the key over plaintext (a sidecar that adds TLS)',
    async () => {
      const plaintext: NodeJS.ProcessEnv = {
        ...env,
        TEMPORAL_ADDRESS: temporal.server.address,
        TEMPORAL_TLS: 'false',
      };
      delete plaintext.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
      delete plaintext.TEMPORAL_TLS_CLIENT_CERT_PATH;
      delete plaintext.TEMPORAL_TLS_CLIENT_KEY_PATH;
      delete plaintext.TEMPORAL_TLS_SERVER_NAME;

      const run = await runCli(['list'], { cwd: dir, env: plaintext, timeoutMs: 60_000 });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^secured-\w+\s+completed\s+3 /m);
    });
});
