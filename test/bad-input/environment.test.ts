/**
 * A hostile environment, met through the CLI: a Temporal address where nothing listens, the
 * embedded server's port taken, a state folder that cannot be written. Each gets a message
 * naming the address, port or folder, an exit code (4: try again once the cause is gone;
 * 3: fix the setting), and leaves no server running.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { findFreePort } from '../../temporal/dev-server.js';
import { writeSplits } from '../data/fixtures.js';
import { cliPlace, type CliPlace } from './bad-input-harness.js';

const UNREACHABLE =
  'error: cannot reach Temporal at 127.0.0.1:1 (namespace default): connection refused ' +
  '(nothing listens there)\n' +
  'hint: Check --temporal-address / TEMPORAL_ADDRESS, or unset it to use the embedded ' +
  'server.\n';

const STATE_HINT =
  'hint: Point SWEEP_STATE_DIR (or stateDir in sweep.config.yaml) at a folder this user can ' +
  'write, or pass --temporal-address to use a running cluster.\n';

/** Mounts a read-only tmpfs at `folder`; false where mounting is not allowed. */
function mountReadOnly(folder: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', folder], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

describe('a hostile environment', { timeout: 90_000, concurrency: true }, () => {
  let place: CliPlace;
  let readOnly: string;
  let mounted = false;

  before(async () => {
    place = await cliPlace('sweep-bad-env-');
    await writeSplits(join(place.dir, 'data'), { daisy: 1, rose: 1 });
    const spec = `name: env\ndataset:\n  root: ${join(place.dir, 'data')}\n  imageSize: 8\n`;
    await writeFile(join(place.dir, 'env.yaml'), spec);

    readOnly = join(place.dir, 'read-only');
    await mkdir(readOnly);
    mounted = mountReadOnly(readOnly);
  });

  after(async () => {
    if (mounted) execFileSync('umount', [readOnly]);
    await place.dispose();
  });

  test('environment - an unreachable Temporal address: exit 4 at once, nothing started',
    async () => {
      const startedAtMs = Date.now();
      const nowhere = ['--temporal-address', '127.0.0.1:1'];
      const runs = await Promise.all([
        place.sweep(['list', ...nowhere]),
        place.sweep(['worker', ...nowhere, '--no-tracking', '--no-metrics']),
      ]);

      for (const run of runs) {
        assert.equal(run.stderr, UNREACHABLE);
        assert.equal(run.code, 4);
      }
      // "connection refused" comes from our TCP check; gRPC alone would wait out its 5 s
      // connect deadline and then only say it timed out. Loose bound: both CLIs start cold.
      const tookMs = Date.now() - startedAtMs;
      assert.ok(tookMs < 30_000, `took ${tookMs} ms`);
      await place.assertNothingStarted();
    });

  test('environment - the embedded port in use: exit 4, port named, no server left',
    async () => {
      const port = await findFreePort();
      const taken: Server = createServer();
      await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
      const state = join(place.dir, 'taken');

      let run;
      try {
        const env = {
          SWEEP_STATE_DIR: state,
          SWEEP_TEMPORAL_PORT: String(port),
          SWEEP_MLFLOW_PORT: String(await findFreePort()),
        };
        run = await place.sweep(['start', 'env.yaml'], env);
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }

      assert.equal(
        run.stderr,
        `error: cannot start the embedded Temporal server: gRPC port ${port} on ` +
          '127.0.0.1 is in use\n' +
          'hint: Stop what listens there, pick other ports with SWEEP_TEMPORAL_PORT / ' +
          'SWEEP_TEMPORAL_UI_PORT, or point at a running cluster with --temporal-address.\n',
      );
      assert.equal(run.code, 4);

      // Neither embedded server is recorded as running or used by a command.
      for (const record of ['temporal-server.json', 'mlflow-server.json']) {
        assert.ok(!existsSync(join(state, record)), record);
      }
      for (const clients of ['temporal-clients', 'mlflow-clients']) {
        const folder = join(state, clients);
        assert.deepEqual(existsSync(folder) ? readdirSync(folder) : [], [], clients);
      }
      // The embedded MLflow server, which starts after Temporal, never started.
      assert.ok(!existsSync(join(state, 'mlflow.db')), 'no MLflow store was made');
    });

  test('environment - a state folder under a file: exit 3, folder named', async () => {
    const file = join(place.dir, 'env.yaml');
    const stateDir = join(file, 'state');
    const run = await place.sweep(['start', 'env.yaml'], { SWEEP_STATE_DIR: stateDir });

    assert.equal(
      run.stderr,
      `error: cannot use the state folder ${stateDir}: a part of that path is a ` +
        `file, not a folder\n${STATE_HINT}`,
    );
    assert.equal(run.code, 3);
  });

  test('environment - a state folder on a read-only file system: exit 3, folder named',
    async (t) => {
      if (!mounted) {
        t.skip('mounting a tmpfs is not allowed here');
        return;
      }

      const stateDir = join(readOnly, 'state');
      const run = await place.sweep(['start', 'env.yaml'], { SWEEP_STATE_DIR: stateDir });

      assert.equal(
        run.stderr,
        `error: cannot use the state folder ${stateDir}: it is on a read-only file system\n` +
          STATE_HINT,
      );
      assert.equal(run.code, 3);
    });
});
