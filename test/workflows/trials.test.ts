import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compactTrials, diffConfig, expandConfig } from '../../workflows/trials.js';
import { noopTrials } from '../integration/temporal-harness.js';

describe('compact trial lists', () => {
  test('trials - a patch holds only the leaves that differ from the base config', () => {
    const trials = noopTrials('s', 3);
    const { baseConfig, trials: compact } = compactTrials(trials);

    assert.deepEqual(baseConfig, trials[0]?.config);
    assert.deepEqual(compact[0]?.patch, []);
    assert.deepEqual(compact[2]?.patch, [{ path: ['training', 'learningRate'], value: 0.003 }]);
  });

  test('trials - expanding every patch gives back every config exactly', () => {
    const trials = noopTrials('s', 4);
    const last = trials[3];
    assert.ok(last !== undefined);
    last.config = {
      ...last.config,
      model: { ...last.config.model, attention: 'all' },
      training: {
        ...last.config.training,
        schedule: { name: 'cosine', warmupEpochs: 1, minLearningRate: 0 },
      },
    };
    delete (last.config.dataset as { maxPerClass?: number }).maxPerClass;

    const { baseConfig, trials: compact } = compactTrials(trials);
    for (const [position, trial] of compact.entries()) {
      assert.deepEqual(expandConfig(baseConfig, trial.patch), trials[position]?.config);
    }
  });

  test('trials - a key missing in the trial is recorded as deleted', () => {
    assert.deepEqual(diffConfig({ a: { b: 1, c: 2 } }, { a: { b: 1 } }), [
      { path: ['a', 'c'], deleted: true },
    ]);
    assert.deepEqual(expandConfig({ a: { b: 1, c: 2 } } as never, [
      { path: ['a', 'c'], deleted: true },
    ]), { a: { b: 1 } });
  });

  test('trials - 2,000 trials compact to well under the 2 MB payload limit', () => {
    const { baseConfig, trials } = compactTrials(noopTrials('a-sweep-1f0c9a2b', 2000));
    const bytes = Buffer.byteLength(JSON.stringify({ baseConfig, trials }));
    assert.ok(bytes < 600_000, `${bytes} bytes`);
  });
});
