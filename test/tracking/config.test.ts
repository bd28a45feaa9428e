/**
 * Where commands find MLflow: settings precedence, links, and which server a command opens
 * (none, the configured one, or an error on a cluster). No server is started here.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  mlflowRunLink,
  resolveTrackingSettings,
  trackingBaseUrl,
  trackingClientOptions,
} from '../../tracking/config.js';
import { openTracking } from '../../tracking/session.js';

describe('tracking settings', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-tracking-config-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('tracking config - without a URI the embedded server is used, on port 5000', () => {
    assert.deepEqual(resolveTrackingSettings({}, {}, dir), {
      enabled: true,
      uri: null,
      embeddedPort: 5000,
      configFile: null,
    });
    assert.equal(resolveTrackingSettings({ tracking: false }, {}, dir).enabled, false);
  });

  test('tracking config - the flag beats the environment, which beats sweep.config.yaml',
    async () => {
      const sub = join(dir, 'with-file');
      await mkdir(sub, { recursive: true });
      await writeFile(
        join(sub, 'sweep.config.yaml'),
        'trackingUri: http://file:5000\nmlflowPort: 5100\ntemporal:\n  address: t:7233\n',
      );

      const fromFile = resolveTrackingSettings({}, {}, sub);
      assert.equal(fromFile.uri, 'http://file:5000');
      assert.equal(fromFile.embeddedPort, 5100);
      assert.equal(fromFile.configFile, join(sub, 'sweep.config.yaml'));

      const env = { MLFLOW_TRACKING_URI: 'http://env:5000', SWEEP_MLFLOW_PORT: '5200' };
      const fromEnv = resolveTrackingSettings({}, env, sub);
      assert.equal(fromEnv.uri, 'http://env:5000');
      assert.equal(fromEnv.embeddedPort, 5200);

      const fromFlag = resolveTrackingSettings({ trackingUri: 'http://flag:5000' }, env, sub);
      assert.equal(fromFlag.uri, 'http://flag:5000');
    });

  test('tracking config - a bad port or config key is named with the value received',
    async () => {
      assert.throws(() => resolveTrackingSettings({}, { SWEEP_MLFLOW_PORT: 'abc' }, dir), {
        code: 'CONFIG_INVALID',
        message: 'SWEEP_MLFLOW_PORT must be a TCP port between 1 and 65535, got "abc"',
      });

      const sub = join(dir, 'bad-file');
      await mkdir(sub, { recursive: true });
      const file = join(sub, 'sweep.config.yaml');
      await writeFile(file, 'trackingUri: 5\nmlflowPort: 70000\n');
      assert.throws(() => resolveTrackingSettings({}, {}, sub), {
        code: 'CONFIG_INVALID',
        message:
          `2 problems in config file ${file}:\n` +
          `  ${file}:1:14 trackingUri: Invalid input: expected string, received number\n` +
          `  ${file}:2:13 mlflowPort: must be 1-65535`,
      });
    });

  test('tracking config - links and client options keep credentials out of URLs', () => {
    const settings = resolveTrackingSettings(
      { trackingUri: 'https://alice:secret@mlflow.lab:8443/prefix/' },
      {},
      dir,
    );
    assert.equal(trackingBaseUrl(settings), 'https://mlflow.lab:8443/prefix');
    assert.equal(trackingBaseUrl(resolveTrackingSettings({}, {}, dir)), 'http://127.0.0.1:5000');
    assert.equal(trackingBaseUrl(resolveTrackingSettings({ tracking: false }, {}, dir)), null);

    assert.equal(
      mlflowRunLink('http://127.0.0.1:5000/', '3', 'abc'),
      'http://127.0.0.1:5000/#/experiments/3/runs/abc',
    );
    assert.deepEqual(
      trackingClientOptions('http://m:5000', {
        MLFLOW_TRACKING_TOKEN: ' t0k ',
        MLFLOW_TRACKING_USERNAME: '',
      }),
      { trackingUri: 'http://m:5000', token: 't0k', username: undefined, password: undefined },
    );
  });

  test('tracking session - off, a configured server, or an error on a Temporal cluster',
    async () => {
      const place = { stateDir: dir, temporalAddress: 'temporal.lab:7233', command: 'sweep start' };
      const off = resolveTrackingSettings({ tracking: false }, {}, dir);
      assert.equal(await openTracking(off, place), null);

      const configured = resolveTrackingSettings({ trackingUri: 'http://u:p@mlflow.lab:5000' }, {});
      const session = await openTracking(configured, place, {});
      assert.ok(session !== null);
      assert.equal(session.url, 'http://mlflow.lab:5000');
      assert.equal(session.embedded, false);
      assert.equal(session.runLink('1', 'r'), 'http://mlflow.lab:5000/#/experiments/1/runs/r');
      await session.close();

      await assert.rejects(openTracking(resolveTrackingSettings({}, {}, dir), place), {
        code: 'CONFIG_INVALID',
        message:
          'sweep start uses the Temporal cluster at temporal.lab:7233, so it needs an MLflow ' +
          'server every worker can reach, and none is configured',
        hint:
          'Pass --tracking-uri http://mlflow.lab:5000, or set MLFLOW_TRACKING_URI (or ' +
          'trackingUri in sweep.config.yaml); --no-tracking runs without MLflow.',
      });
    });
});
