import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { batchIterator, batchSeed, epochOrder, makeBatch } from '../../data/batches.js';
import type { SplitData } from '../../data/dataset.js';
import { ConfigError } from '../../lib/errors.js';
import { tf } from '../../lib/tf.js';

/** A split of `count` 2x3 images whose every byte is the image's index; labels cycle 0..2. */
function fakeSplit(count: number): SplitData {
  const height = 2;
  const width = 3;
  const images = new Uint8Array(count * height * width * 3);
  for (let i = 0; i < count; i += 1) {
    images.fill(i, i * height * width * 3, (i + 1) * height * width * 3);
  }
  return {
    images,
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    paths: Array.from({ length: count }, (_, i) => `/data/${i}.png`),
    count,
    height,
    width,
    numClasses: 3,
  };
}

const OPTIONS = { batchSize: 4, shuffle: true, seed: 5, epoch: 0 };

describe('batches', () => {
  test('batchIterator - yields every image once, in batches with the last one partial', () => {
    const split = fakeSplit(10);
    const seen: number[] = [];
    const sizes: number[] = [];

    for (const batch of batchIterator(split, OPTIONS)) {
      sizes.push(batch.size);
      seen.push(...batch.indices);
      tf.dispose([batch.xs, batch.ys]);
    }

    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('batchIterator - builds float32 pixels and one-hot labels of the chosen images', () => {
    const split = fakeSplit(5);

    const [batch] = batchIterator(split, { ...OPTIONS, batchSize: 5 });
    assert.ok(batch !== undefined);

    assert.equal(batch.xs.dtype, 'float32');
    assert.deepEqual(batch.xs.shape, [5, 2, 3, 3]);
    assert.deepEqual(batch.ys.shape, [5, 3]);
    const pixels = batch.xs.dataSync();
    const labels = batch.ys.arraySync();
    for (const [row, item] of batch.indices.entries()) {
      assert.equal(pixels[row * 18], item);
      assert.equal(pixels[row * 18 + 17], item);
      assert.deepEqual(labels[row], [0, 1, 2].map((label) => (label === item % 3 ? 1 : 0)));
    }
    tf.dispose([batch.xs, batch.ys]);
  });

  test('batchIterator - has one order per seed and epoch, the split order unshuffled', () => {
    const split = fakeSplit(12);
    const order = (options: typeof OPTIONS) => {
      const indices: number[] = [];
      for (const batch of batchIterator(split, options)) {
        indices.push(...batch.indices);
        tf.dispose([batch.xs, batch.ys]);
      }
      return indices;
    };

    assert.deepEqual(order(OPTIONS), order(OPTIONS));
    assert.notDeepEqual(order(OPTIONS), order({ ...OPTIONS, epoch: 1 }));
    assert.notDeepEqual(order(OPTIONS), order({ ...OPTIONS, seed: 6 }));
    assert.deepEqual(order({ ...OPTIONS, shuffle: false }), [...Array(12).keys()]);
  });

  test('batchIterator - leaves numTensors unchanged after iterating and disposing', () => {
    const split = fakeSplit(9);
    const before = tf.memory().numTensors;

    for (const batch of batchIterator(split, OPTIONS)) {
      tf.dispose([batch.xs, batch.ys]);
    }
    const batches = batchIterator(split, OPTIONS);
    const first = batches.next();
    if (!first.done) {
      tf.dispose([first.value.xs, first.value.ys]);
    }
    batches.return();

    assert.equal(tf.memory().numTensors, before);
  });

  test('batchIterator - can pull the next batch ahead while one is in use', () => {
    const split = fakeSplit(7);
    const batches = batchIterator(split, { ...OPTIONS, batchSize: 3 });
    const sizes: number[] = [];

    let next = batches.next();
    while (!next.done) {
      const batch = next.value;
      next = batches.next();
      sizes.push(batch.xs.shape[0]);
      tf.dispose([batch.xs, batch.ys]);
    }

    assert.deepEqual(sizes, [3, 3, 1]);
  });

  test('batchIterator - yields nothing for an empty split', () => {
    assert.deepEqual([...batchIterator(fakeSplit(0), OPTIONS)], []);
  });

  test('batchIterator - refuses a batch size below 1 when called', () => {
    const call = () => batchIterator(fakeSplit(3), { ...OPTIONS, batchSize: 0 });

    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, 'batch size must be a whole number of at least 1, got 0');
      return true;
    });
  });

  test('epochOrder - is a permutation that differs between epochs', () => {
    const first = epochOrder(50, { shuffle: true, seed: 1, epoch: 0 });
    const second = epochOrder(50, { shuffle: true, seed: 1, epoch: 1 });

    assert.deepEqual([...first].sort((a, b) => a - b), [...Array(50).keys()]);
    assert.notDeepEqual(first, second);
  });

  test('makeBatch - copies the images at the given indices', () => {
    const batch = makeBatch(fakeSplit(6), Int32Array.from([5, 0]), 3);

    assert.equal(batch.index, 3);
    assert.deepEqual([batch.xs.dataSync()[0], batch.xs.dataSync()[18]], [5, 0]);
    tf.dispose([batch.xs, batch.ys]);
  });

  test('batchSeed - differs for every epoch and batch', () => {
    const seeds = new Set<number>();
    for (let epoch = 0; epoch < 20; epoch += 1) {
      for (let batch = 0; batch < 100; batch += 1) {
        seeds.add(batchSeed(1, epoch, batch));
      }
    }

    assert.equal(seeds.size, 2000);
  });
});
