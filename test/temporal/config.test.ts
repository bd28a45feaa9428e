import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ConfigError } from '../../lib/errors.js';
import { resolveTemporalSettings, sweepUiLink, uiBaseUrl } from '../../temporal/config.js';

describe('temporal settings', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-config-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('config - without an address the embedded server is used, state in ./.state', () => {
    const settings = resolveTemporalSettings({}, {}, dir);

    assert.deepEqual(settings, {
      address: null,
      namespace: 'default',
      uiUrl: null,
      stateDir: join(dir, '.state'),
      embeddedPort: 7233,
      embeddedUiPort: 8233,
      configFile: null,
      tls: null,
      apiKey: null,
      metadata: {},
    });
  });

  test('config - the flag beats the environment, which beats sweep.config.yaml', async () => {
    const sub = join(dir, 'with-file');
    await mkdir(sub, { recursive: true });
    await writeFile(
      join(sub, 'sweep.config.yaml'),
      'stateDir: runs-state\ntemporal:\n  address: file:7233\n  namespace: lab\n' +
        'embedded:\n  port: 9000\n',
    );

    const fromFile = resolveTemporalSettings({}, {}, sub);
    assert.equal(fromFile.address, 'file:7233');
    assert.equal(fromFile.namespace, 'lab');
    assert.equal(fromFile.stateDir, join(sub, 'runs-state'));
    assert.equal(fromFile.embeddedPort, 9000);
    assert.equal(fromFile.embeddedUiPort, 10000);

    const fromEnv = resolveTemporalSettings({}, { TEMPORAL_ADDRESS: 'env:7233' }, sub);
    assert.equal(fromEnv.address, 'env:7233');

    const fromFlag = resolveTemporalSettings(
      { temporalAddress: 'flag:7233', namespace: 'x' },
      { TEMPORAL_ADDRESS: 'env:7233' },
      sub,
    );
    assert.equal(fromFlag.address, 'flag:7233');
    assert.equal(fromFlag.namespace, 'x');
  });

  test('config - a bad port variable is named with the value received', () => {
    assert.throws(
      () => resolveTemporalSettings({}, { SWEEP_TEMPORAL_PORT: '70000' }, dir),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          'SWEEP_TEMPORAL_PORT must be a TCP port between 1 and 65535, got "70000"',
    );
  });

  test('config - an unknown key in sweep.config.yaml is reported with the file', async () => {
    const sub = join(dir, 'bad-file');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'sweep.config.yaml');
    await writeFile(file, 'temporal:\n  adress: typo:7233\n');

    assert.throws(
      () => resolveTemporalSettings({}, {}, sub),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          `1 problem in config file ${file}:\n  ${file}:2:3 temporal.adress: unknown key; ` +
            'did you mean `address`?',
    );
  });

  test('config - a misspelt top-level key is an error, not silently ignored', async () => {
    const sub = join(dir, 'top-level-typo');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'sweep.config.yaml');
    await writeFile(file, 'trackingUrl: http://mlflow.lab:5000\n');

    assert.throws(
      () => resolveTemporalSettings({}, {}, sub),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          `1 problem in config file ${file}:\n  ${file}:1:1 trackingUrl: unknown key; did you ` +
            'mean `trackingUri`?',
    );
  });

  test('config - a credential in sweep.config.yaml points to the environment', async () => {
    const sub = join(dir, 'credential');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'sweep.config.yaml');
    await writeFile(file, 'temporal:\n  address: lab:7233\n  apiKey: secret\nmlflowPort: 0\n');

    assert.throws(
      () => resolveTemporalSettings({}, {}, sub),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(
          error.message,
          `2 problems in config file ${file}:\n` +
            `  ${file}:3:3 temporal.apiKey: unknown key; credentials are read from the ` +
            'environment only\n' +
            `  ${file}:4:13 mlflowPort: must be 1-65535`,
        );
        assert.match(error.hint ?? '', /^Remove the credential from the file; set TEMPORAL_/);
        assert.ok(!error.message.includes('secret'), 'the value is not echoed');
        return true;
      },
    );
  });

  test('config - a sweep.config.yaml that is a folder is named, not a crash', async () => {
    const sub = join(dir, 'folder-config');
    await mkdir(join(sub, 'sweep.config.yaml'), { recursive: true });

    assert.throws(() => resolveTemporalSettings({}, {}, sub), {
      name: 'ConfigError',
      message: `cannot read ${join(sub, 'sweep.config.yaml')}: it is a folder`,
    });
  });

  test('config - UI links use the configured base, the embedded UI, or port + 1000', () => {
    const remote = resolveTemporalSettings({ temporalAddress: 'temporal.lab:7233' }, {}, dir);
    assert.equal(uiBaseUrl(remote, null), 'http://temporal.lab:8233');
    assert.equal(uiBaseUrl({ ...remote, uiUrl: 'https://ui.lab/' }, null), 'https://ui.lab');
    const embedded = { ...remote, address: null };
    assert.equal(uiBaseUrl(embedded, 'http://127.0.0.1:8233'), 'http://127.0.0.1:8233');
    assert.equal(
      sweepUiLink('http://127.0.0.1:8233', 'default', 'quick-1f0c9a2b'),
      'http://127.0.0.1:8233/namespaces/default/workflows/quick-1f0c9a2b',
    );
  });
});
