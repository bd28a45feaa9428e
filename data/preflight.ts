/**
 * The dataset check `sweep start` runs before it starts anything: a bad dataset is refused in
 * seconds, with every problem named, instead of failing each trial on a worker.
 */
import type { LoadedSpec } from '../spec/load.js';

import { scanDataset, type DatasetScan } from './scan.js';

/**
 * Scans the spec's dataset where the trials will read it (`dataset.root` resolved from the
 * spec's folder): the layout, the classes of each split, and every image decoded at
 * `dataset.imageSize` (`dataset.maxPerClass` limits how many). Hidden and non-image files are
 * ignored; images of other sizes and colour modes are accepted.
 *
 * Note: it runs on the machine that starts the sweep, so that machine must see the dataset at
 * the same path as the workers do (as trial configs carry that absolute path anyway).
 *
 * @throws DatasetError as `scanDataset` does: missing folder, no class folders, classes that
 *   differ between splits, class folders without images, unreadable, corrupt, truncated or
 *   oversized images (all bad files in one error, unless `dataset.onCorrupt` is `skip`).
 */
export async function preflightDataset(loaded: LoadedSpec): Promise<DatasetScan> {
  return scanDataset(loaded.spec.dataset, { root: loaded.datasetRoot });
}
