/**
 * The dataset check `sweep start` runs before it starts anything: a bad dataset is refused in
 * seconds, with every problem named, instead of failing each trial on a worker.
 */
import { DatasetError } from '../lib/errors.js';
import type { LoadedSpec } from '../spec/load.js';
import { readSpecYaml } from '../spec/yaml.js';
import { scanDataset, type DatasetScan } from './scan.js';

/** How the scanner's hints for a root that is missing, or a file, begin. */
const ROOT_HINT = 'Check dataset.root in the spec.';
const FILE_ROOT_HINT = 'Point dataset.root at the folder.';

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
  try {
    return await scanDataset(loaded.spec.dataset, { root: loaded.datasetRoot });
  } catch (error) {
    // A root that is missing or not a folder: point at the line of the spec that names it.
    if (!(error instanceof DatasetError)) throw error;
    const hint = error.hint ?? '';
    if (!hint.startsWith(ROOT_HINT) && !hint.startsWith(FILE_ROOT_HINT)) throw error;
    const at = readSpecYaml(loaded.text).locate(['dataset', 'root'], 'value');
    const where = at === undefined ? loaded.file : `${loaded.file}:${at.line}:${at.column}`;
    throw new DatasetError(error.message, {
      paths: error.paths,
      hint: hint
        .replace(
          ROOT_HINT,
          `Check dataset.root at ${where} (a relative root is taken from the spec's folder).`,
        )
        .replace(FILE_ROOT_HINT, `Point dataset.root (${where}) at the folder.`),
      cause: error.cause,
    });
  }
}
