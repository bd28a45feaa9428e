/**
 * Batches from a split in memory: a deterministic order per (seed, epoch), and tensors built
 * from the uint8 buffer one batch at a time.
 */
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs-node';

import { ConfigError } from '../lib/errors.js';
import { tf } from '../lib/tf.js';

import type { SplitData } from './dataset.js';
import { mixSeeds, mulberry32, shuffleInPlace } from '../lib/random.js';

// The trainer takes batches and their preprocessing from one place.
export { augmentBatch, preprocessBatch } from './augment.js';

/** How to walk a split for one epoch. */
export interface BatchOptions {
  /** Images per batch; the last batch holds the remainder (as Keras). A whole number >= 1. */
  batchSize: number;
  /** Shuffle the order each epoch (train); off keeps the split's order (val, test). */
  shuffle: boolean;
  /** Seed of the shuffle; with `epoch` it fixes the order. Ignored without `shuffle`. */
  seed: number;
  /** Epoch number (any integer, e.g. 0-based); each epoch gets a different order. */
  epoch: number;
}

/** One batch. The caller owns the tensors and disposes them (`tf.dispose([xs, ys])`). */
export interface Batch {
  /** Float32 `[size, height, width, 3]`, raw pixel values 0-255 (not rescaled): pass it to
   * `augmentBatch` or `preprocessBatch`. */
  xs: Tensor4D;
  /** Float32 one-hot labels `[size, numClasses]`. */
  ys: Tensor2D;
  /** Images in this batch: `batchSize`, or fewer for the last one. */
  size: number;
  /** 0-based position of the batch in the epoch. */
  index: number;
  /** Positions of the batch's images in the split (into `labels`, `paths`). */
  indices: Int32Array;
}

/**
 * The order in which an epoch visits a split's images: `0..count-1`, shuffled with a seed
 * mixed from `seed` and `epoch` when `shuffle` is on.
 */
export function epochOrder(
  count: number,
  options: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch'>,
): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i += 1) {
    order[i] = i;
  }

  if (options.shuffle) {
    shuffleInPlace(order, mulberry32(mixSeeds(options.seed, options.epoch)));
  }
  return order;
}

/** Number of batches in an epoch: `ceil(count / batchSize)`, the last one partial. */
export function batchCount(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

/**
 * A seed for the augmentation of one batch, distinct for every (seed, epoch, batch index), so
 * `augmentBatch(batch.xs, config, batchSeed(seed, epoch, batch.index))` is reproducible.
 */
export function batchSeed(seed: number, epoch: number, batchIndex: number): number {
  // The constant keeps these streams apart from the shuffle's mixSeeds(seed, epoch).
  return mixSeeds(seed, epoch, batchIndex, 0x41554721);
}

/**
 * Builds the tensors of one batch from the images at `indices` of the split.
 *
 * The uint8 pixels are converted to float32 in JS while they are copied into the batch buffer
 * (`Float32Array.prototype.set`, a native loop), then handed to TensorFlow once. tfjs has no
 * uint8 dtype: `tf.tensor4d(uint8s, shape, 'int32')` would copy to an Int32Array and need a
 * cast op on top.
 *
 * @param index Position of the batch in the epoch, copied to `Batch.index`.
 */
export function makeBatch(split: SplitData, indices: Int32Array, index = 0): Batch {
  const imageBytes = split.height * split.width * 3;
  const size = indices.length;
  const pixels = new Float32Array(size * imageBytes);
  const oneHot = new Float32Array(size * split.numClasses);

  for (let row = 0; row < size; row += 1) {
    const item = indices[row] as number;
    pixels.set(split.images.subarray(item * imageBytes, (item + 1) * imageBytes), row * imageBytes);
    oneHot[row * split.numClasses + (split.labels[item] as number)] = 1;
  }

  const xs = tf.tensor4d(pixels, [size, split.height, split.width, 3], 'float32');
  const ys = tf.tensor2d(oneHot, [size, split.numClasses], 'float32');
  return { xs, ys, size, index, indices };
}

/**
 * Yields an epoch of batches in a deterministic order per (seed, epoch), the last one partial.
 * An empty split yields nothing.
 *
 * Lazy: each `next()` builds one batch (about a millisecond for 32 images at 128x128), and
 * each batch's tensors are the caller's to dispose, whether or not the loop runs to the end.
 *
 * Prefetching: to have batch i + 1 built before batch i trains, pull one ahead:
 *
 * ```ts
 * const batches = batchIterator(split, options);
 * let next = batches.next();
 * while (!next.done) {
 *   const batch = next.value;
 *   next = batches.next(); // batch i + 1, built now
 *   await trainOn(batch);
 *   tf.dispose([batch.xs, batch.ys]);
 * }
 * ```
 *
 * (On leaving such a loop early, dispose the batch held in `next` too.) With tfjs-node this
 * saves little: its ops run synchronously on the JS thread, so building a batch cannot overlap
 * a training step. For real overlap, run {@link epochOrder} and the copy of {@link makeBatch}
 * in a worker thread and transfer the Float32Array buffers.
 *
 * @throws ConfigError (at the call, not at the first `next()`) when `batchSize` is not a whole
 *   number of at least 1.
 */
export function batchIterator(split: SplitData, options: BatchOptions): Generator<Batch, void> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new ConfigError(
      `batch size must be a whole number of at least 1, got ${options.batchSize}`,
      { hint: 'Set training.batchSize in the spec to e.g. 32.' },
    );
  }
  return generateBatches(split, options);
}

function* generateBatches(split: SplitData, options: BatchOptions): Generator<Batch, void> {
  const order = epochOrder(split.count, options);
  const batches = batchCount(split.count, options.batchSize);

  for (let index = 0; index < batches; index += 1) {
    const start = index * options.batchSize;
    const indices = order.subarray(start, Math.min(start + options.batchSize, split.count));
    yield makeBatch(split, indices, index);
  }
}
