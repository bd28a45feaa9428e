import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Tensor } from '@tensorflow/tfjs-node';

import { buildAttentionCnn, formatSummary, summaryRows } from '../../model/attention-cnn.js';
import { ConfigError } from '../../lib/errors.js';
import { tf } from '../../lib/tf.js';
import { ATTENTION_PLACEMENTS, modelSchema, type AttentionPlacement } from '../../spec/schema.js';

const TUTORIAL_SHAPE = { height: 128, width: 128, classCount: 5, seed: 1 };

function build(attention: AttentionPlacement, shape = TUTORIAL_SHAPE) {
  return buildAttentionCnn(modelSchema.parse({ attention }), shape);
}

describe('attention-cnn', () => {
  test('attention-cnn - has the tutorial parameter count at 128x128x3 with 5 classes', () => {
    const model = build('block1');
    assert.equal(model.countParams(), 3_305_318);
    model.dispose();
  });

  test('attention-cnn - each placement adds one 1x1 conv over that block channels', () => {
    // A 1x1 conv to one channel has (channels + 1) parameters: 33, 65 and 129.
    const expected: Record<AttentionPlacement, number> = {
      none: 3_305_318 - 33,
      block1: 3_305_318,
      block2: 3_305_318 - 33 + 65,
      block3: 3_305_318 - 33 + 129,
      all: 3_305_318 + 65 + 129,
    };
    for (const placement of ATTENTION_PLACEMENTS) {
      const model = build(placement);
      assert.equal(model.countParams(), expected[placement], placement);
      model.dispose();
    }
  });

  test('attention-cnn - outputs class probabilities that sum to one', () => {
    const model = build('all', { height: 32, width: 32, classCount: 3, seed: 7 });
    const probabilities = tf.tidy(() => model.predict(tf.ones([2, 32, 32, 3])) as Tensor);

    assert.deepEqual(probabilities.shape, [2, 3]);
    const sums = tf.tidy(() => probabilities.sum(-1).arraySync() as number[]);
    for (const sum of sums) assert.ok(Math.abs(sum - 1) < 1e-5);
    probabilities.dispose();
    model.dispose();
  });

  test('attention-cnn - the same seed gives the same initial weights', () => {
    const first = build('block1', { height: 32, width: 32, classCount: 5, seed: 3 });
    const second = build('block1', { height: 32, width: 32, classCount: 5, seed: 3 });
    const a = first.getWeights()[0]!.dataSync();
    const b = second.getWeights()[0]!.dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
    first.dispose();
    second.dispose();
  });

  test('attention-cnn - refuses images too small for three conv blocks', () => {
    assert.throws(
      () => build('block1', { height: 16, width: 16, classCount: 5, seed: 1 }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message === 'dataset.imageSize 16x16 is too small for three conv blocks',
    );
  });

  test('attention-cnn - the summary lists layers, output shapes and the totals', () => {
    const model = build('block1');
    const rows = summaryRows(model);
    const attention = rows.find((row) => row.layer === 'block1_attention');
    assert.deepEqual(attention, {
      layer: 'block1_attention',
      type: 'Conv2D',
      outputShape: '(None, 63, 63, 1)',
      params: 33,
    });

    const text = formatSummary(model);
    assert.match(text, /Total params: 3,305,318/);
    assert.match(text, /flatten \(Flatten\)\s+\(None, 25088\)\s+0/);
    model.dispose();
  });
});
