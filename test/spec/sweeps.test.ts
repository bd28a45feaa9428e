import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadSpec } from '../../spec/load.js';
import { planTrials } from '../../spec/plan.js';

const SWEEPS = fileURLToPath(new URL('../../sweeps/', import.meta.url));
const FLOWERS = path.resolve(SWEEPS, '../../shared/datasets/flowers');

/** Trials each example plans, with its axes; a new example must be added here. */
const EXPECTED: Record<string, { total: number; axes: string[] }> = {
  'tutorial.yaml': { total: 1, axes: [] },
  'dropout.yaml': { total: 9, axes: ['model.dropout.dense', 'model.dropout.block3'] },
  'attention.yaml': { total: 5, axes: ['model.attention'] },
  'lr-schedules.yaml': { total: 5, axes: ['training.schedule'] },
  'full-grid.yaml': {
    total: 75,
    axes: ['model.dropout.dense', 'model.attention', 'training.schedule'],
  },
  'quick.yaml': { total: 4, axes: ['model.attention', 'model.dropout.dense'] },
};

describe('example sweeps', () => {
  test('example sweeps - every file in sweeps/ is listed here', async () => {
    const files = (await readdir(SWEEPS)).filter((file) => file.endsWith('.yaml')).sort();
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    test(`example sweeps - ${file} loads and plans ${expected.total} trial(s)`, async () => {
      const loaded = await loadSpec(path.join(SWEEPS, file));
      const plan = planTrials(loaded);

      assert.equal(loaded.datasetRoot, FLOWERS);
      assert.equal(plan.total, expected.total);
      assert.deepEqual(plan.axes, expected.axes);
      assert.equal(new Set(plan.trials.map((trial) => trial.id)).size, expected.total);
      assert.ok(plan.trials.every((trial) => trial.config.dataset.root === FLOWERS));
    });
  }

  test('example sweeps - the tutorial keeps every default', async () => {
    const plan = planTrials(await loadSpec(path.join(SWEEPS, 'tutorial.yaml')));
    const config = plan.trials[0]?.config;

    assert.equal(config?.model.attention, 'block1');
    assert.equal(config?.dataset.imageSize, 128);
    assert.deepEqual(config?.training.schedule, { name: 'plateau' });
  });

  test('example sweeps - quick is small enough for a laptop CPU', async () => {
    const plan = planTrials(await loadSpec(path.join(SWEEPS, 'quick.yaml')));

    for (const trial of plan.trials) {
      assert.equal(trial.config.dataset.imageSize, 64);
      assert.ok((trial.config.dataset.maxPerClass ?? Infinity) <= 20);
      assert.ok(trial.config.training.epochs <= 3);
    }
  });
});
