/**
 * Commands about existing sweeps, run where no embedded server has ever run: they answer at
 * once and start nothing (no server, no state folder left behind).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runCli } from '../integration/temporal-harness.js';

describe('sweep commands in a folder where no sweep has run', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-empty-'));
    env = { ...process.env, SWEEP_LOG_LEVEL: 'warn' };
    delete env.SWEEP_STATE_DIR;
    delete env.TEMPORAL_ADDRESS;
    delete env.MLFLOW_TRACKING_URI;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sweep = (args: string[]) => runCli(args, { cwd: dir, env, timeoutMs: 60_000 });

  for (const command of ['status', 'report', 'cancel', 'resume']) {
    test(`empty state - ${command} <id> says no sweep has run here, exit 3`, async () => {
      const run = await sweep([command, 'quick-0123abcd']);

      assert.equal(run.code, 3, run.stdout + run.stderr);
      const stateDir = join(dir, '.state');
      assert.equal(
        run.stderr.split('\n')[0],
        `error: no sweep with id quick-0123abcd here: no sweep has run with the embedded ` +
          `server of ${stateDir}`,
      );
      assert.match(run.stderr, /^hint: Run the command in the folder the sweep was started from/m);
      assert.ok(!existsSync(stateDir), 'no state folder was made');
    });
  }

  test('empty state - predict says no sweep was recorded here, starting no MLflow', async () => {
    const run = await sweep(['predict', '--model', 'best:quick-0123abcd', 'photo.jpg']);

    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.equal(
      run.stderr.split('\n')[0],
      'error: no sweep quick-0123abcd here: no sweep has been recorded with the embedded ' +
        `MLflow of ${join(dir, '.state')}`,
    );
    assert.ok(!existsSync(join(dir, '.state')), 'no state folder was made');
  });

  test('empty state - list prints that there are no sweeps yet and starts nothing', async () => {
    const text = await sweep(['list']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^no sweeps yet in .*\.state; start one with: sweep start /);

    const json = await sweep(['list', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), []);
    assert.ok(!existsSync(join(dir, '.state')), 'no state folder was made');
  });
});
