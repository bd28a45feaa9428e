/**
 * The real thing, small: `sweep start sweeps/quick.yaml` trains 4 trials of the attention CNN
 * on the flowers photos (64 px, 20 images per class and split, 3 epochs) through the embedded
 * Temporal and MLflow servers, each trial in its own process, then reports.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findFreePort } from '../../temporal/dev-server.js';
import { runCli } from './temporal-harness.js';

const QUICK_SPEC = fileURLToPath(new URL('../../sweeps/quick.yaml', import.meta.url));
const FLOWERS = fileURLToPath(new URL('../../../shared/datasets/flowers', import.meta.url));

describe('quick sweep with the real trainer', { timeout: 300_000 }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-quick-'));
    env = {
      ...process.env,
      SWEEP_STATE_DIR: join(dir, 'state'),
      SWEEP_TEMPORAL_PORT: String(await findFreePort()),
      SWEEP_TEMPORAL_UI_PORT: String(await findFreePort()),
      SWEEP_MLFLOW_PORT: String(await findFreePort()),
      SWEEP_LOG_LEVEL: 'error',
    };
    delete env.MLFLOW_TRACKING_URI;
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('quick - 4 trials train on the flowers photos, each in its own process', {
    skip: existsSync(FLOWERS) ? false : `no dataset at ${FLOWERS}`,
  }, async () => {
    const run = await runCli(['start', QUICK_SPEC, '--slots', '2'], {
      cwd: dir,
      env,
      timeoutMs: 240_000,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /completed: 4 done, 0 running, 0 failed, 0 cancelled, 0 queued/);
    const mlflowLink =
      /^MLflow: (http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\/[0-9a-f]{32})$/m;
    assert.match(run.stdout, mlflowLink);

    const sweepId = /started sweep (quick-[0-9a-f]{8})/.exec(run.stdout)?.[1] ?? '';
    const status = await runCli(['status', sweepId, '--json'], { cwd: dir, env });
    const trials = (JSON.parse(status.stdout) as {
      trials: { id: string; epoch: number; bestValAccuracy: number; testAccuracy: number }[];
    }).trials;

    assert.equal(trials.length, 4);
    assert.equal(
      (JSON.parse(status.stdout) as { mlflowLink: string }).mlflowLink,
      mlflowLink.exec(run.stdout)?.[1],
    );
    for (const trial of trials) {
      assert.ok(trial.epoch >= 1 && trial.epoch <= 3, `epochs run: ${trial.epoch}`);
      assert.ok(trial.bestValAccuracy > 0 && trial.bestValAccuracy <= 1);
      assert.ok(trial.testAccuracy >= 0 && trial.testAccuracy <= 1);

      const runDir = join(dir, 'state', 'runs', sweepId, trial.id);
      const metrics = JSON.parse(await readFile(join(runDir, 'metrics.json'), 'utf8')) as {
        testAccuracy: number;
      };
      assert.equal(metrics.testAccuracy, trial.testAccuracy);
      assert.ok(existsSync(join(runDir, 'checkpoint')), 'the epoch checkpoint is kept');
    }

    const report = await runCli(['report', sweepId], { cwd: dir, env });
    assert.match(report.stdout, /leaderboard \(top 4 of 4 done, by best val acc\)/);
    assert.match(report.stdout, /^model\.attention\s+block1\s+2 /m);
  });
});
