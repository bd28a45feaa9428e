/**
 * Batch augmentation with TensorFlow ops: what Keras's `ImageDataGenerator(rescale=1/255,
 * shear_range=0.2, zoom_range=0.2, horizontal_flip=True)` does image by image, done for a whole
 * batch with one `tf.image.transform` call.
 *
 * Each image gets its own affine map, built here in JS from seeded draws (cheap: a few numbers
 * per image). Coordinates are pixel indices, x along a row (column index) and y down the image
 * (row index), with pixel centres on integers, as in both Keras (scipy's `affine_transform`) and
 * TensorFlow's `ImageProjectiveTransformV3`.
 */
import type { Tensor4D } from '@tensorflow/tfjs-node';

import { tf } from '../lib/tf.js';
import type { AugmentationConfig } from '../spec/schema.js';

import { mulberry32, uniform } from '../lib/random.js';
import './transform-kernel.js';

/** The random part of one image's augmentation. */
export interface AugmentationDraw {
  /** Shear angle in degrees, uniform in [-shearRange, shearRange]. */
  shearDegrees: number;
  /** Zoom factors along x (width) and y (height), each uniform in [1 - zoomRange, 1 + zoomRange].
   * A factor above 1 samples a larger area, so the content looks smaller (zooms out). */
  zoomX: number;
  zoomY: number;
  /** Mirror left-right, with probability 0.5 when `horizontalFlip` is on. */
  flip: boolean;
}

/**
 * Draws the augmentation of `count` images from a generator seeded with `seed`.
 *
 * Four numbers are drawn per image whatever the config, so turning one augmentation on or off
 * does not change the draws of the others for the same seed.
 */
export function drawAugmentations(
  count: number,
  config: AugmentationConfig,
  seed: number,
): AugmentationDraw[] {
  const random = mulberry32(seed);
  const draws: AugmentationDraw[] = [];

  for (let i = 0; i < count; i += 1) {
    const shear = uniform(random, -config.shearRange, config.shearRange);
    const zoomX = uniform(random, 1 - config.zoomRange, 1 + config.zoomRange);
    const zoomY = uniform(random, 1 - config.zoomRange, 1 + config.zoomRange);
    const flip = random() < 0.5;

    draws.push({
      shearDegrees: config.shearRange === 0 ? 0 : shear,
      zoomX: config.zoomRange === 0 ? 1 : zoomX,
      zoomY: config.zoomRange === 0 ? 1 : zoomY,
      flip: config.horizontalFlip && flip,
    });
  }
  return draws;
}

/**
 * The 8 parameters `tf.image.transform` takes for one image: the map from an OUTPUT pixel
 * (x, y) to the INPUT point it samples, `x_in = a0 x + a1 y + a2`, `y_in = b0 x + b1 y + b2`
 * (last two, the projective part, are 0).
 *
 * As Keras composes it: shear `[[1, -sin s], [0, cos s]]` times zoom `diag(zoomX, zoomY)`, about
 * the image centre ((width - 1) / 2, (height - 1) / 2), and the flip applied to the result
 * (x -> width - 1 - x). Keras offsets both axes by the height, which differs only for
 * non-square images; this uses each axis's own centre.
 *
 * @param height Image height in pixels.
 * @param width Image width in pixels.
 */
export function transformParams(draw: AugmentationDraw, height: number, width: number): number[] {
  const shear = (draw.shearDegrees * Math.PI) / 180;
  const centreX = (width - 1) / 2;
  const centreY = (height - 1) / 2;

  // Linear part, shear times zoom: [[a, b], [0, d]].
  const a = draw.zoomX;
  const b = -Math.sin(shear) * draw.zoomY;
  const d = Math.cos(shear) * draw.zoomY;

  // Flipping the output about the centre negates the coefficients of x.
  const sign = draw.flip ? -1 : 1;

  const params = [
    sign * a,
    b,
    centreX - sign * a * centreX - b * centreY,
    0,
    d,
    centreY - d * centreY,
    0,
    0,
  ];
  // Adding 0 turns -0 (from -sin(0)) into 0, so the identity reads [1, 0, 0, 0, 1, 0, 0, 0].
  return params.map((value) => value + 0);
}

/**
 * Applies per-image transforms with bilinear interpolation, filling points outside the image
 * with the nearest edge pixel (Keras's `fill_mode='nearest'`).
 *
 * @param images Float32 batch `[n, height, width, channels]`.
 * @param params `n * 8` numbers, each row as {@link transformParams} returns it.
 * @returns A new float32 tensor of the same shape; the caller disposes it.
 */
export function applyTransforms(images: Tensor4D, params: ArrayLike<number>): Tensor4D {
  return tf.tidy(() => {
    const transforms = tf.tensor2d(Float32Array.from(params), [images.shape[0], 8]);
    return tf.image.transform(images, transforms, 'bilinear', 'nearest');
  });
}

/**
 * Augments a batch as Keras's `ImageDataGenerator` does: a random shear, zoom and horizontal
 * flip per image (see {@link drawAugmentations} and {@link transformParams}), then `rescale`.
 *
 * The same `seed` gives the same output; give every batch its own seed (e.g. `batchSeed` from
 * `batches.ts`). When no image is transformed (ranges 0, flip off) the transform op is
 * skipped and the result equals {@link preprocessBatch}.
 *
 * @param images Batch `[n, height, width, 3]`, pixel values 0-255, int32 (uint8 values) or
 *   float32. Not disposed.
 * @param config The spec's `augmentation` section.
 * @param seed Any integer (low 32 bits used).
 * @returns A new float32 tensor `[n, height, width, 3]` with values in [0, 255 * rescale]; the
 *   caller disposes it.
 */
export function augmentBatch(
  images: Tensor4D,
  config: AugmentationConfig,
  seed: number,
): Tensor4D {
  const [count, height, width] = images.shape;
  const draws = drawAugmentations(count, config, seed);
  const params = draws.flatMap((draw) => transformParams(draw, height, width));
  const isIdentity = draws.every(
    (draw) => draw.shearDegrees === 0 && draw.zoomX === 1 && draw.zoomY === 1 && !draw.flip,
  );

  return tf.tidy(() => {
    const floats = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    const moved = isIdentity ? floats : applyTransforms(floats, params);
    return tf.mul(moved, tf.scalar(config.rescale));
  });
}

/**
 * The validation and test path: cast to float32 and multiply by `rescale`, no augmentation.
 *
 * @param images Batch `[n, height, width, channels]`, int32 or float32. Not disposed.
 * @param rescale The multiplier (e.g. `1 / 255`), or anything with `rescale` (the spec's
 *   `augmentation` section works).
 * @returns A new float32 tensor; the caller disposes it.
 */
export function preprocessBatch(
  images: Tensor4D,
  rescale: number | Pick<AugmentationConfig, 'rescale'>,
): Tensor4D {
  const factor = typeof rescale === 'number' ? rescale : rescale.rescale;

  return tf.tidy(() => {
    const floats = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    return tf.mul(floats, tf.scalar(factor));
  });
}
