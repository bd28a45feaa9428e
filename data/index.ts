/**
 * The dataset side of a trial: scan and load a folder of class folders, then batches and
 * augmentation with TensorFlow ops.
 *
 * ```ts
 * const data = await loadDataset(config.dataset, { root });
 * for (const batch of batchIterator(data.train, { batchSize: 32, shuffle: true, seed, epoch })) {
 *   const xs = augmentBatch(batch.xs, config.augmentation, batchSeed(seed, epoch, batch.index));
 *   // ... train on xs, batch.ys ...
 *   tf.dispose([xs, batch.xs, batch.ys]);
 * }
 * ```
 */
export {
  applyTransforms,
  augmentBatch,
  drawAugmentations,
  preprocessBatch,
  transformParams,
  type AugmentationDraw,
} from './augment.js';
export {
  batchCount,
  batchIterator,
  batchSeed,
  epochOrder,
  makeBatch,
  type Batch,
  type BatchOptions,
} from './batches.js';
export { DEFAULT_MAX_IMAGE_PIXELS, IMAGE_EXTENSIONS } from './images.js';
export {
  listDataset,
  SPLIT_NAMES,
  type DatasetFile,
  type DatasetLayout,
  type DatasetListing,
  type SplitName,
} from './layout.js';
export { loadDataset, type LoadedDataset, type LoadOptions, type SplitData } from './dataset.js';
export { mixSeeds, mulberry32 } from '../lib/random.js';
export {
  imageShape,
  scanDataset,
  type BadImage,
  type DatasetScan,
  type ScanOptions,
} from './scan.js';
