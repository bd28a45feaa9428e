import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import type { Scalar, Tensor, Tensor4D, Variable } from '@tensorflow/tfjs-node';

import { tf } from '../../lib/tf.js';
import { buildAttentionCnn } from '../../model/attention-cnn.js';
import { modelSchema } from '../../spec/schema.js';
import { useFastGradients } from '../../training/fast-gradients.js';
import { crossEntropy } from '../../training/trainer.js';

/** Gradients of `f` at `xs`, with tfjs's default gradients and with the fast ones. */
function bothWays(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]): [Tensor[], Tensor[]] {
  useFastGradients(false);
  const slow = tf.grads(f)(xs);
  useFastGradients(true);
  const fast = tf.grads(f)(xs);
  return [slow, fast];
}

function maxDifference(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('fast-gradients', () => {
  after(() => {
    useFastGradients(false);
  });

  test('fast-gradients - the ReLU gradient equals tfjs default on random data', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([4, 17, 13, 8], 0, 1, 'float32', 1);
      const weights = tf.randomNormal(x.shape, 0, 1, 'float32', 2);
      const [[slow], [fast]] = bothWays((v) => tf.sum(tf.mul(tf.relu(v), weights)), [x]);

      assert.ok(maxDifference(slow!, fast!) <= 1e-6);
    });
  });

  test('fast-gradients - the max-pool gradient equals tfjs default (odd sizes, paddings)', () => {
    type Case = {
      shape: [number, number, number, number];
      size: number;
      stride: number;
      pad: 'valid' | 'same';
    };
    const cases: Case[] = [
      { shape: [2, 9, 11, 3], size: 2, stride: 2, pad: 'valid' },
      { shape: [3, 126, 126, 4], size: 2, stride: 2, pad: 'valid' },
      { shape: [2, 10, 7, 5], size: 3, stride: 2, pad: 'same' },
      { shape: [1, 6, 6, 2], size: 2, stride: 1, pad: 'valid' },
    ];

    for (const { shape, size, stride, pad } of cases) {
      tf.tidy(() => {
        const x = tf.randomNormal(shape, 0, 1, 'float32', 3) as Tensor4D;
        const pool = (v: Tensor): Tensor => tf.maxPool(v as Tensor4D, size, stride, pad);
        const weights = tf.randomNormal(pool(x).shape, 0, 1, 'float32', 4);
        const [[slow], [fast]] = bothWays((v) => tf.sum(tf.mul(pool(v), weights)), [x]);

        assert.ok(maxDifference(slow!, fast!) <= 1e-6, JSON.stringify({ shape, size, pad }));
      });
    }
  });

  test('fast-gradients - the gradient of a channel bias equals tfjs default up to rounding', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([8, 31, 29, 16], 0, 1, 'float32', 5);
      const bias = tf.randomNormal([16], 0, 1, 'float32', 6);
      const weights = tf.randomNormal(x.shape, 0, 1, 'float32', 7);
      const f = (v: Tensor, b: Tensor): Tensor => tf.sum(tf.mul(tf.add(v, b), weights));
      const [[slowX, slowBias], [fastX, fastBias]] = bothWays(f, [x, bias]);

      assert.equal(maxDifference(slowX!, fastX!), 0);
      // Sums of 7,000 products: the order of summation moves the last digits.
      const scale = tf.max(tf.abs(slowBias!)).dataSync()[0]!;
      assert.ok(maxDifference(slowBias!, fastBias!) <= 1e-5 * Math.max(scale, 1));
    });
  });

  test('fast-gradients - other adds keep tfjs gradient (broadcast over a leading axis)', () => {
    tf.tidy(() => {
      const a = tf.randomNormal([5, 3], 0, 1, 'float32', 8);
      const b = tf.randomNormal([1, 3], 0, 1, 'float32', 9);
      const f = (u: Tensor, v: Tensor): Tensor => tf.sum(tf.square(tf.add(u, v)));
      const [[slowA, slowB], [fastA, fastB]] = bothWays(f, [a, b]);

      assert.equal(maxDifference(slowA!, fastA!), 0);
      assert.equal(maxDifference(slowB!, fastB!), 0);
    });
  });

  test('fast-gradients - the model gradients match tfjs default and a step lowers the loss', () => {
    const model = buildAttentionCnn(modelSchema.parse({ attention: 'all' }), {
      height: 32,
      width: 32,
      classCount: 3,
      seed: 11,
    });
    const images = tf.randomUniform([6, 32, 32, 3], 0, 1, 'float32', 12);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3).toFloat();
    const weights = model.trainableWeights.map((weight) => weight.read() as Variable);
    // Inference mode: no dropout, so both passes see the same function.
    const loss = (): Scalar => crossEntropy(model.apply(images) as Tensor, labels) as Scalar;

    try {
      useFastGradients(false);
      const slow = tf.variableGrads(loss);
      useFastGradients(true);
      const fast = tf.variableGrads(loss);
      for (const weight of weights) {
        const name = weight.name;
        const scale = tf.tidy(() => tf.max(tf.abs(slow.grads[name]!)).dataSync()[0]!);
        const difference = maxDifference(slow.grads[name]!, fast.grads[name]!);
        assert.ok(difference <= 1e-5 * Math.max(scale, 1), `${name}: ${difference}`);
      }
      tf.dispose([slow.value, fast.value]);
      tf.dispose([...Object.values(slow.grads), ...Object.values(fast.grads)]);

      const optimizer = tf.train.adam(0.01);
      const before = tf.tidy(() => loss().dataSync()[0]!);
      for (let step = 0; step < 5; step += 1) optimizer.minimize(loss);
      const afterSteps = tf.tidy(() => loss().dataSync()[0]!);
      optimizer.dispose();

      assert.ok(afterSteps < before, `loss ${before} -> ${afterSteps}`);
    } finally {
      tf.dispose([images, labels]);
      model.dispose();
    }
  });

  test('fast-gradients - turning them off restores tfjs registered gradients', () => {
    const status = useFastGradients(true);
    assert.deepEqual(status, { relu: true, maxPool: true, biasAdd: true });
    const fastRelu = tf.getGradient('Relu');

    assert.deepEqual(useFastGradients(false), { relu: false, maxPool: false, biasAdd: false });
    assert.notEqual(tf.getGradient('Relu'), fastRelu);
  });
});
