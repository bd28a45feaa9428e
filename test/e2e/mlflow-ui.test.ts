/**
 * The MLflow UI shows what a sweep recorded: a real server, a small sweep recorded through
 * the recorders (synthetic epochs, no training), and headless Chromium opening the
 * experiment's runs page. The screenshot stays in test-output/mlflow-ui/ to look at.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import sharp from 'sharp';

import { MlflowClient } from '../../tracking/client.js';
import type { LeaderboardTrial } from '../../tracking/leaderboard.js';
import { SweepRecorder } from '../../tracking/sweep-run.js';
import { TrialRecorder } from '../../tracking/trial-run.js';
import { silentLogger, startTestServer } from '../tracking/helpers.js';
import { fakeEpoch, fakeRunFolder, tinySweep } from '../tracking/recording-helpers.js';
import { chromiumInstalled, chromiumPath, HeadlessChromium } from './headless-chromium.js';

const OUTPUT_DIR = path.resolve(import.meta.dirname, '../../test-output/mlflow-ui');
const VIEWPORT = { width: 1400, height: 900 };

/** Selector of the expand button in a parent run's name cell. */
const EXPAND_BUTTON = 'button[data-component-id*="runnamecellrenderer"]';

let dispose: (() => Promise<void>) | undefined;
let url: string;
let workDir: string;
let sweep: SweepRecorder;
let trialNames: string[];
let sweepId: string;

describe('mlflow ui', { timeout: 300_000 }, () => {
  before(async () => {
    if (!(await chromiumInstalled())) return;

    const started = await startTestServer();
    dispose = started.dispose;
    url = started.server.url;
    const client = new MlflowClient({ trackingUri: url, logger: silentLogger });
    workDir = await mkdtemp(path.join(tmpdir(), 'sweep-ui-'));

    const { loaded, plan } = await tinySweep(workDir, 'ui-test');
    sweepId = plan.sweepId;
    trialNames = plan.trials.map((trial) => trial.name);
    sweep = await SweepRecorder.start({ client, plan, spec: loaded, logger: silentLogger });

    const rows: LeaderboardTrial[] = [];
    for (const [index, trial] of plan.trials.entries()) {
      const recorder = await TrialRecorder.start({
        client,
        experimentId: sweep.ref.experimentId,
        parentRunId: sweep.ref.parentRunId,
        sweepId: plan.sweepId,
        trial,
        attempt: 1,
        backend: 'tensorflow',
        device: 'cpu',
        logger: silentLogger,
      });
      const runDir = path.join(workDir, trial.id);
      for (const epoch of [1, 2, 3]) await recorder.epoch(fakeEpoch(epoch, index / 10));
      await fakeRunFolder(runDir, 3, index / 10, 1);

      const valAccuracy = fakeEpoch(3, index / 10).logs.val_accuracy;
      await recorder.finish({
        bestEpoch: 3,
        bestValAccuracy: valAccuracy,
        testLoss: 1,
        testAccuracy: valAccuracy - 0.02,
        runDir,
      });
      rows.push({
        id: trial.id,
        name: trial.name,
        values: trial.values,
        state: 'done',
        epoch: 3,
        bestValAccuracy: valAccuracy,
        testAccuracy: valAccuracy - 0.02,
      });
    }
    await sweep.finish({ trials: rows });
  }, { timeout: 150_000 });

  after(async () => {
    await dispose?.();
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  test('mlflow ui - the experiment page lists the sweep run and, expanded, its trial runs', {
    timeout: 120_000,
  }, async (t) => {
    if (!(await chromiumInstalled())) {
      t.skip(`${chromiumPath()} is missing; install it with: apt-get install -y chromium`);
      return;
    }

    const profile = await mkdtemp(path.join(tmpdir(), 'sweep-chromium-'));
    const browser = await HeadlessChromium.launch({ userDataDir: profile, ...VIEWPORT });
    t.after(async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    });

    await browser.navigate(`${url}/#/experiments/${sweep.ref.experimentId}/runs`);
    // The count line may render after the table; wait for both before reading the page.
    await browser.waitFor(
      `document.querySelector(${JSON.stringify(EXPAND_BUTTON)}) !== null && ` +
        `document.body.innerText.includes('3 matching runs')`,
      60_000,
    );
    const collapsed = await browser.evaluate<string>('document.body.innerText');
    await browser.click(EXPAND_BUTTON);
    const names = JSON.stringify(trialNames);
    await browser.waitFor(
      `${names}.every((name) => document.body.innerText.includes(name))`,
      20_000,
    );
    // The assistant side panel takes a third of the width; closing it shows more columns.
    await browser.click('button[aria-label="Close"]').catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const file = path.join(OUTPUT_DIR, 'experiment-runs.png');
    await browser.screenshot(file);
    const expanded = await browser.evaluate<string>('document.body.innerText');

    assert.ok(collapsed.includes(sweepId), 'the sweep run is listed');
    assert.ok(collapsed.includes('3 matching runs'), collapsed.slice(0, 500));
    for (const name of trialNames) assert.ok(expanded.includes(name), `${name} is listed`);

    const image = sharp(file);
    const { width, height } = await image.metadata();
    assert.deepEqual({ width, height }, VIEWPORT);
    const { channels } = await image.stats();
    assert.ok((channels[0]?.min ?? 255) < 60, 'the screenshot has dark text, it is not blank');
  });

  test('mlflow ui - the sweep run page lists the leaderboard, spec and accuracy plot', {
    timeout: 120_000,
  }, async (t) => {
    if (!(await chromiumInstalled())) {
      t.skip(`${chromiumPath()} is missing; install it with: apt-get install -y chromium`);
      return;
    }

    const profile = await mkdtemp(path.join(tmpdir(), 'sweep-chromium-'));
    const browser = await HeadlessChromium.launch({ userDataDir: profile, ...VIEWPORT });
    t.after(async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    });

    const { experimentId, parentRunId } = sweep.ref;
    await browser.navigate(
      `${url}/#/experiments/${experimentId}/runs/${parentRunId}/artifacts/val-accuracy-by-axis.png`,
    );
    const files = ['leaderboard.csv', 'leaderboard.md', 'val-accuracy-by-axis.png', 'spec'];
    await browser.waitFor(
      `${JSON.stringify(files)}.every((name) => document.body.innerText.includes(name))`,
      60_000,
    );
    await browser.waitFor(
      '[...document.images].some((image) => image.naturalWidth === 480)',
      20_000,
    );
    await browser.click('button[aria-label="Close"]').catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await browser.screenshot(path.join(OUTPUT_DIR, 'sweep-run-artifacts.png'));
  });
});
