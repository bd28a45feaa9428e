import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  applyTransforms,
  augmentBatch,
  drawAugmentations,
  preprocessBatch,
  transformParams,
  type AugmentationDraw,
} from '../../data/augment.js';
import { mulberry32 } from '../../lib/random.js';
import { tf } from '../../lib/tf.js';
import { augmentationSchema, type AugmentationConfig } from '../../spec/schema.js';

const KERAS_DEFAULTS: AugmentationConfig = augmentationSchema.parse({});
const NO_AUGMENTATION: AugmentationConfig = {
  rescale: 1 / 255,
  shearRange: 0,
  zoomRange: 0,
  horizontalFlip: false,
};

/** A batch of random uint8 values as an int32 tensor. */
function randomBatch(count: number, height: number, width: number, seed = 1) {
  const random = mulberry32(seed);
  const values = Int32Array.from({ length: count * height * width * 3 }, () =>
    Math.floor(random() * 256),
  );
  return tf.tensor4d(values, [count, height, width, 3], 'int32');
}

type Matrix = number[][];

function multiply(a: Matrix, b: Matrix): Matrix {
  return a.map((row) =>
    b[0]!.map((_, j) => row.reduce((sum, value, k) => sum + value * b[k]![j]!, 0)),
  );
}

/**
 * Keras's composition written out as 3x3 matrices on (x, y, 1): shift the centre to the
 * origin, zoom, shear, shift back, then flip the output.
 */
function kerasMatrix(draw: AugmentationDraw, height: number, width: number): Matrix {
  const s = (draw.shearDegrees * Math.PI) / 180;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const shear = [[1, -Math.sin(s), 0], [0, Math.cos(s), 0], [0, 0, 1]];
  const zoom = [[draw.zoomX, 0, 0], [0, draw.zoomY, 0], [0, 0, 1]];
  const toCentre = [[1, 0, cx], [0, 1, cy], [0, 0, 1]];
  const fromCentre = [[1, 0, -cx], [0, 1, -cy], [0, 0, 1]];
  const flip = draw.flip
    ? [[-1, 0, width - 1], [0, 1, 0], [0, 0, 1]]
    : [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  return multiply(multiply(multiply(multiply(toCentre, shear), zoom), fromCentre), flip);
}

/** Bilinear sampling with edge clamping, pixel by pixel in plain JS. */
function referenceTransform(
  image: Float32Array,
  height: number,
  width: number,
  params: number[],
): Float32Array {
  const [a0, a1, a2, b0, b1, b2] = params as [number, number, number, number, number, number];
  const out = new Float32Array(image.length);
  const read = (y: number, x: number, c: number) =>
    image[(Math.min(y, height - 1) * width + Math.min(x, width - 1)) * 3 + c]!;

  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const xIn = Math.min(Math.max(a0 * x + a1 * y + a2, 0), width - 1);
      const yIn = Math.min(Math.max(b0 * x + b1 * y + b2, 0), height - 1);
      const x0 = Math.floor(xIn);
      const y0 = Math.floor(yIn);
      const fx = xIn - x0;
      const fy = yIn - y0;
      for (let c = 0; c < 3; c += 1) {
        const top = (1 - fx) * read(y0, x0, c) + fx * read(y0, x0 + 1, c);
        const bottom = (1 - fx) * read(y0 + 1, x0, c) + fx * read(y0 + 1, x0 + 1, c);
        out[(y * width + x) * 3 + c] = (1 - fy) * top + fy * bottom;
      }
    }
  }
  return out;
}

describe('augmentation', () => {
  test('augmentBatch - returns float32 of the same shape with values in [0, 1]', () => {
    const images = randomBatch(4, 16, 12);

    const out = augmentBatch(images, KERAS_DEFAULTS, 3);

    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.shape, [4, 16, 12, 3]);
    const values = out.dataSync();
    assert.ok(values.every((value) => value >= 0 && value <= 1));
    tf.dispose([images, out]);
  });

  test('augmentBatch - gives the same batch for the same seed and another for another seed', () => {
    const images = randomBatch(3, 10, 10);

    const first = augmentBatch(images, KERAS_DEFAULTS, 42);
    const again = augmentBatch(images, KERAS_DEFAULTS, 42);
    const other = augmentBatch(images, KERAS_DEFAULTS, 43);

    assert.deepEqual(first.dataSync(), again.dataSync());
    assert.notDeepEqual(first.dataSync(), other.dataSync());
    tf.dispose([images, first, again, other]);
  });

  test('augmentBatch - with zero ranges and no flip equals rescaling alone', () => {
    const images = randomBatch(2, 6, 5);

    const augmented = augmentBatch(images, NO_AUGMENTATION, 9);
    const rescaled = preprocessBatch(images, NO_AUGMENTATION);
    // TensorFlow multiplies in float32.
    const factor = Math.fround(1 / 255);
    const expected = Float32Array.from(images.dataSync(), (value) => Math.fround(value * factor));

    assert.deepEqual(augmented.dataSync(), rescaled.dataSync());
    assert.deepEqual(rescaled.dataSync(), expected);
    tf.dispose([images, augmented, rescaled]);
  });

  test('augmentBatch - leaves no tensors behind and does not dispose its input', () => {
    const images = randomBatch(2, 8, 8);
    const floats = tf.cast(images, 'float32') as typeof images;
    const before = tf.memory().numTensors;

    tf.dispose(augmentBatch(images, KERAS_DEFAULTS, 1));
    tf.dispose(augmentBatch(floats, KERAS_DEFAULTS, 1));
    tf.dispose(preprocessBatch(images, 1 / 255));
    tf.dispose(preprocessBatch(floats, 1 / 255));

    assert.equal(tf.memory().numTensors, before);
    assert.equal(images.isDisposed, false);
    assert.equal(floats.isDisposed, false);
    tf.dispose([images, floats]);
  });

  test('preprocessBatch - takes the rescale factor as a number or from the config', () => {
    const images = tf.tensor4d([0, 51, 255], [1, 1, 1, 3], 'int32');

    const fromNumber = preprocessBatch(images, 0.5);
    const fromConfig = preprocessBatch(images, { rescale: 0.5 });

    assert.deepEqual([...fromNumber.dataSync()], [0, 25.5, 127.5]);
    assert.deepEqual([...fromConfig.dataSync()], [0, 25.5, 127.5]);
    tf.dispose([images, fromNumber, fromConfig]);
  });

  test('applyTransforms - the identity is a no-op', () => {
    const images = tf.cast(randomBatch(2, 7, 9), 'float32') as ReturnType<typeof randomBatch>;
    const identity = transformParams({ shearDegrees: 0, zoomX: 1, zoomY: 1, flip: false }, 7, 9);

    const out = applyTransforms(images, [...identity, ...identity]);

    assert.deepEqual(identity, [1, 0, 0, 0, 1, 0, 0, 0]);
    assert.deepEqual(out.dataSync(), images.dataSync());
    tf.dispose([images, out]);
  });

  test('applyTransforms - the flip matrix equals tf.image.flipLeftRight', () => {
    const images = tf.cast(randomBatch(2, 5, 8), 'float32') as ReturnType<typeof randomBatch>;
    const flip = transformParams({ shearDegrees: 0, zoomX: 1, zoomY: 1, flip: true }, 5, 8);

    const out = applyTransforms(images, [...flip, ...flip]);
    const expected = tf.image.flipLeftRight(images);

    assert.deepEqual(flip, [-1, 0, 7, 0, 1, 0, 0, 0]);
    assert.deepEqual(out.dataSync(), expected.dataSync());
    tf.dispose([images, out, expected]);
  });

  test('applyTransforms - samples bilinearly, filling with the nearest edge pixel', () => {
    const height = 9;
    const width = 11;
    const draws: AugmentationDraw[] = [
      { shearDegrees: 20, zoomX: 0.8, zoomY: 1.2, flip: false },
      { shearDegrees: -35, zoomX: 1.5, zoomY: 0.6, flip: true },
      { shearDegrees: 0, zoomX: 0.5, zoomY: 0.5, flip: false },
    ];
    const images = tf.cast(randomBatch(draws.length, height, width, 5), 'float32') as ReturnType<
      typeof randomBatch
    >;
    const params = draws.map((draw) => transformParams(draw, height, width));

    const out = applyTransforms(images, params.flat()).dataSync();

    const input = images.dataSync() as Float32Array;
    const imageSize = height * width * 3;
    for (const [index, row] of params.entries()) {
      const expected = referenceTransform(
        input.subarray(index * imageSize, (index + 1) * imageSize),
        height,
        width,
        row,
      );
      const actual = out.subarray(index * imageSize, (index + 1) * imageSize);
      const worst = Math.max(...actual.map((value, i) => Math.abs(value - expected[i]!)));
      assert.ok(worst < 1e-3, `image ${index}: largest difference ${worst}`);
    }
    images.dispose();
  });

  test("transformParams - equals Keras's shear times zoom about the centre, then the flip", () => {
    const draw: AugmentationDraw = { shearDegrees: 12, zoomX: 0.9, zoomY: 1.15, flip: true };

    const params = transformParams(draw, 128, 96);
    const matrix = kerasMatrix(draw, 128, 96);

    const expected = [...matrix[0]!, ...matrix[1]!, 0, 0];
    params.forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-9, `param ${i}`));
  });

  test('drawAugmentations - draws shear in degrees, zoom per axis, flips half the time', () => {
    const draws = drawAugmentations(2000, { ...KERAS_DEFAULTS, shearRange: 10 }, 11);

    assert.ok(draws.every((draw) => Math.abs(draw.shearDegrees) <= 10));
    assert.ok(draws.some((draw) => Math.abs(draw.shearDegrees) > 9));
    assert.ok(draws.every((draw) => draw.zoomX >= 0.8 && draw.zoomX <= 1.2));
    assert.ok(draws.every((draw) => draw.zoomY >= 0.8 && draw.zoomY <= 1.2));
    assert.ok(draws.some((draw) => draw.zoomX !== draw.zoomY));
    const flips = draws.filter((draw) => draw.flip).length;
    assert.ok(flips > 900 && flips < 1100, `${flips} flips of 2000`);
  });

  test('drawAugmentations - turning flip off keeps the other draws of the same seed', () => {
    const withFlip = drawAugmentations(5, KERAS_DEFAULTS, 4);
    const withoutFlip = drawAugmentations(5, { ...KERAS_DEFAULTS, horizontalFlip: false }, 4);

    assert.deepEqual(
      withoutFlip,
      withFlip.map((draw) => ({ ...draw, flip: false })),
    );
  });
});
