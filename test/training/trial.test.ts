import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';

import sharp from 'sharp';

import { loadDataset, type LoadedDataset } from '../../data/dataset.js';
import { DivergedError } from '../../lib/errors.js';
import { tf } from '../../lib/tf.js';
import { sweepSpecSchema, type TrialConfig } from '../../spec/schema.js';
import { RUN_FILES, trainTrial } from '../../training/trial.js';

const FLOWERS = resolve(import.meta.dirname, '../../../shared/datasets/flowers');

/** The tutorial's recipe on a small subset at 32x32, so a trial takes seconds. */
function smallConfig(overrides: Record<string, unknown> = {}): TrialConfig {
  const spec = sweepSpecSchema.parse({
    name: 'trial-test',
    dataset: { root: FLOWERS, imageSize: 32, maxPerClass: 8 },
    training: { epochs: 2, batchSize: 16 },
    ...overrides,
  });
  const { dataset, augmentation, model, training, callbacks } = spec;
  return { dataset, augmentation, model, training, callbacks };
}

async function tempRunDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sweep-trial-'));
}

describe('trial', () => {
  let dataset: LoadedDataset;
  before(async () => {
    dataset = await loadDataset(smallConfig().dataset);
  });

  test('trial - trains two epochs, writes every output file and leaks no tensor', async (t) => {
    const runDir = await tempRunDir();
    t.after(() => rm(runDir, { recursive: true, force: true }));
    const tensorsBefore = tf.memory().numTensors;
    const epochs: number[] = [];

    const summary = await trainTrial({
      config: smallConfig(),
      runDir,
      dataset,
      onEpoch: (report) => {
        epochs.push(report.epoch);
      },
    });

    assert.equal(tf.memory().numTensors, tensorsBefore);
    assert.deepEqual(epochs, [1, 2]);
    assert.equal(summary.epochsRun, 2);
    assert.ok(summary.testAccuracy >= 0 && summary.testAccuracy <= 1);
    assert.ok(Number.isFinite(summary.testLoss));

    const files = await readdir(runDir);
    for (const file of Object.values(RUN_FILES)) assert.ok(files.includes(file), file);
    assert.ok((await readdir(join(runDir, 'model'))).includes('model.json'));

    const history = JSON.parse(await readFile(join(runDir, RUN_FILES.history), 'utf8'));
    assert.equal(history.val_accuracy.length, 2);
    assert.deepEqual(history.learning_rate, [0.001, 0.001]);

    const curves = await sharp(join(runDir, RUN_FILES.curves)).metadata();
    assert.equal(curves.format, 'png');
  });

  test('trial - a resumed trial continues after its checkpoint, not from scratch', async (t) => {
    const runDir = await tempRunDir();
    t.after(() => rm(runDir, { recursive: true, force: true }));

    await trainTrial({
      config: smallConfig({ training: { epochs: 1, batchSize: 16 } }),
      runDir,
      dataset,
    });
    const epochs: number[] = [];
    const summary = await trainTrial({
      config: smallConfig({ training: { epochs: 3, batchSize: 16 } }),
      runDir,
      dataset,
      resume: true,
      onEpoch: (report) => {
        epochs.push(report.epoch);
      },
    });

    assert.equal(summary.resumedFromEpoch, 1);
    assert.deepEqual(epochs, [2, 3]);
    assert.equal(summary.epochsRun, 3);
  });

  test('trial - a diverging loss stops the trial with a non-retryable error', async (t) => {
    const runDir = await tempRunDir();
    t.after(() => rm(runDir, { recursive: true, force: true }));
    const tensorsBefore = tf.memory().numTensors;

    await assert.rejects(
      trainTrial({
        config: smallConfig({ training: { epochs: 2, batchSize: 16, learningRate: 1e30 } }),
        runDir,
        dataset,
      }),
      (error: unknown) => {
        assert.ok(error instanceof DivergedError);
        assert.equal(error.retryable, false);
        assert.match(error.message, /^training diverged: loss became (NaN|-?Infinity) at epoch 1/);
        return true;
      },
    );
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});
