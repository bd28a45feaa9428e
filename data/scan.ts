/**
 * The pre-flight scan: list the dataset, then read and fully decode every image before any
 * training, so a bad file stops a trial in seconds instead of hours into it.
 */
import { performance } from 'node:perf_hooks';

import { DatasetError } from '../lib/errors.js';
import { logger, type Logger } from '../lib/logger.js';
import type { DatasetConfig } from '../spec/schema.js';

import { DEFAULT_FILE_CONCURRENCY, mapWithConcurrency } from './concurrency.js';
import { DEFAULT_MAX_IMAGE_PIXELS, decodeImageFile } from './images.js';
import {
  listDataset,
  SPLIT_NAMES,
  type DatasetFile,
  type DatasetLayout,
  type DatasetListing,
  type SplitName,
} from './layout.js';

/** Options shared by {@link scanDataset} and `loadDataset`. */
export interface ScanOptions {
  /** Dataset folder to use instead of `config.root` (e.g. resolved from the spec's folder).
   * Relative paths are resolved from the working folder. */
  root?: string;
  /** Files read and decoded at once; default 8. */
  concurrency?: number;
  /** Refuse images with more pixels than this; default 50,000,000. */
  maxImagePixels?: number;
  /** Logger for the warnings and the summary (e.g. a child with the trial id); default the
   * root logger. */
  log?: Logger;
}

/** A file that cannot be used, and why. */
export interface BadImage {
  path: string;
  reason: string;
  split: SplitName;
  /** Position of the file in its split's listing (before bad files are dropped). */
  index: number;
}

/** What the scan found. Only files that decoded are in `splits`. */
export interface DatasetScan {
  /** Absolute path of the dataset folder. */
  root: string;
  layout: DatasetLayout;
  /** Class names in plain string order; a label indexes this list. */
  classNames: string[];
  /** Usable files of each split, grouped by label, each group in path order. */
  splits: Record<SplitName, DatasetFile[]>;
  /** Number of hidden entries and non-image files that were ignored. */
  ignoredCount: number;
  /** Bad files dropped with `onCorrupt: 'skip'`; always empty with `'fail'` (it throws). */
  skipped: BadImage[];
  /** Target height and width in pixels every image was decoded to. */
  height: number;
  width: number;
}

/** Called with each decoded image: its split, its index in the split's listing, its RGB bytes. */
export type ImageSink = (split: SplitName, index: number, pixels: Buffer) => void;

/**
 * Checks a whole dataset before training: lists it (see `listDataset` for the layouts and
 * layout errors), then reads every image's header and decodes it at `config.imageSize`, with at
 * most `options.concurrency` files at once.
 *
 * Hidden entries and non-image files are ignored with one warning giving their count. Images
 * whose content is another supported format than their extension says decode normally and are
 * named in one warning.
 *
 * @throws DatasetError for layout problems, and with `config.onCorrupt: 'fail'` (the default)
 *   for bad files: unreadable, not an image, over the pixel limit, truncated or corrupt. All
 *   bad files are listed in one error, with their paths in `error.paths`. With `'skip'` they
 *   are dropped, listed in one warning and returned in `skipped`.
 */
export async function scanDataset(
  config: DatasetConfig,
  options: ScanOptions = {},
): Promise<DatasetScan> {
  const listing = await listDataset(config, options.root ?? config.root);
  return checkListing(listing, config, options);
}

/**
 * Decodes every file of a listing, hands each good image to `sink`, and applies
 * `config.onCorrupt`. Shared by {@link scanDataset} and `loadDataset`, which passes a sink that
 * stores the pixels.
 */
export async function checkListing(
  listing: DatasetListing,
  config: DatasetConfig,
  options: ScanOptions,
  sink?: ImageSink,
): Promise<DatasetScan> {
  const log = options.log ?? logger;
  const started = performance.now();
  const [height, width] = imageShape(config.imageSize);

  if (listing.ignoredPaths.length > 0) {
    log.warn(
      { root: listing.root, ignoredCount: listing.ignoredPaths.length },
      'dataset files ignored (hidden or not an image)',
    );
  }

  const jobs = SPLIT_NAMES.flatMap((split) =>
    listing.splits[split].map((file, index) => ({ split, index, file })),
  );
  const target = { height, width, maxPixels: options.maxImagePixels ?? DEFAULT_MAX_IMAGE_PIXELS };
  const bad: BadImage[] = [];
  const mismatched: string[] = [];

  await mapWithConcurrency(jobs, options.concurrency ?? DEFAULT_FILE_CONCURRENCY, async (job) => {
    const result = await decodeImageFile(job.file.path, target);
    if (!result.ok) {
      bad.push({ path: job.file.path, reason: result.reason, split: job.split, index: job.index });
      return;
    }
    if (result.header.extensionMismatch) {
      mismatched.push(job.file.path);
    }
    sink?.(job.split, job.index, result.pixels);
  });

  if (mismatched.length > 0) {
    log.warn(
      { root: listing.root, count: mismatched.length, paths: mismatched.sort() },
      'dataset images whose content differs from their extension (decoded by content)',
    );
  }

  bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (bad.length > 0 && config.onCorrupt === 'fail') {
    throw badImagesError(listing.root, bad);
  }
  if (bad.length > 0) {
    const files = bad.map(({ path, reason }) => ({ path, reason }));
    log.warn(
      { root: listing.root, count: bad.length, files },
      'dataset images skipped (onCorrupt: skip)',
    );
  }

  const splits = dropBad(listing, bad);
  log.debug(
    {
      root: listing.root,
      train: splits.train.length,
      val: splits.val.length,
      test: splits.test.length,
      durationMs: Math.round(performance.now() - started),
    },
    'dataset scanned',
  );

  return {
    root: listing.root,
    layout: listing.layout,
    classNames: listing.classNames,
    splits,
    ignoredCount: listing.ignoredPaths.length,
    skipped: bad,
    height,
    width,
  };
}

/**
 * `dataset.imageSize` as `[height, width]` in pixels: `128` means `[128, 128]`.
 */
export function imageShape(imageSize: DatasetConfig['imageSize']): [number, number] {
  return typeof imageSize === 'number' ? [imageSize, imageSize] : [imageSize[0], imageSize[1]];
}

/** One error listing every bad file with its reason, paths sorted. */
function badImagesError(root: string, bad: BadImage[]): DatasetError {
  const count = bad.length === 1 ? '1 bad image file' : `${bad.length} bad image files`;
  const lines = bad.map(({ path, reason }) => `  ${path}: ${reason}`);
  return new DatasetError([`${count} in ${root}:`, ...lines].join('\n'), {
    paths: bad.map(({ path }) => path),
    hint: "Remove or replace these files, or set dataset.onCorrupt: skip to train without them.",
  });
}

function dropBad(listing: DatasetListing, bad: BadImage[]): Record<SplitName, DatasetFile[]> {
  const splits = {} as Record<SplitName, DatasetFile[]>;

  for (const split of SPLIT_NAMES) {
    const dropped = new Set(bad.filter((item) => item.split === split).map((item) => item.index));
    splits[split] = listing.splits[split].filter((_, index) => !dropped.has(index));
  }
  return splits;
}
