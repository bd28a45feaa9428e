/**
 * Finding the images of a dataset folder: which layout it has, its classes, and the files of
 * each split. Nothing is decoded here; see `scan.ts` for the checks of file contents.
 *
 * Two layouts are accepted:
 * - `root/{train,val,test}/<class>/<images>`, as the Keras flowers tutorial ships it;
 * - `root/<class>/<images>`, split per class by `dataset.split` with a seeded shuffle.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { DatasetError } from '../lib/errors.js';
import type { DatasetConfig } from '../spec/schema.js';

import { IMAGE_EXTENSIONS, isImageFileName } from './images.js';
import { hashString, mixSeeds, mulberry32, shuffleInPlace } from '../lib/random.js';

/** The three splits, in the order they are reported. */
export const SPLIT_NAMES = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** `splits`: `root/{train,val,test}/<class>`; `classFolders`: `root/<class>`, split by seed. */
export type DatasetLayout = 'splits' | 'classFolders';

/** One image file and the index of its class in `classNames`. */
export interface DatasetFile {
  path: string;
  label: number;
}

/** The files of a dataset, before their contents are checked. */
export interface DatasetListing {
  /** Absolute path of the dataset folder. */
  root: string;
  layout: DatasetLayout;
  /** Class folder names in plain string order; a label is an index into this list. */
  classNames: string[];
  /** Files of each split, grouped by label, each group in sorted path order. */
  splits: Record<SplitName, DatasetFile[]>;
  /** Files skipped because they are hidden (name starts with `.`) or not images. */
  ignoredPaths: string[];
}

/** A folder entry with symbolic links resolved to what they point at. */
interface Entry {
  name: string;
  path: string;
  kind: 'folder' | 'file' | 'other';
  isLink: boolean;
}

/** Shown under every layout error. */
export const LAYOUT_HINT =
  'Expected <root>/train/<class>/<images> with the same classes in val/ and test/, or ' +
  '<root>/<class>/<images> to be split by dataset.split. Image extensions: ' +
  `${IMAGE_EXTENSIONS.join(' ')} (any letter case).`;

/**
 * Lists the images of the dataset at `root` (absolute, or resolved from the working folder).
 *
 * Classes come from `train/` (or from `root` itself for a single folder of classes), sorted in
 * plain string order as Keras does; files in a class folder and its sub-folders are sorted by
 * path. Hidden entries and non-image files are ignored and returned in `ignoredPaths`.
 * `config.maxPerClass` keeps the first N files of each class in each split.
 *
 * @throws DatasetError when the root is missing or not a folder, a split folder is missing,
 *   there are no class folders, the classes of val/ or test/ differ from train/ (every
 *   difference listed), class folders hold no images (all of them listed), or
 *   `split.train + split.val` is over 1.
 */
export async function listDataset(config: DatasetConfig, root: string): Promise<DatasetListing> {
  const absoluteRoot = resolve(root);
  await requireFolder(absoluteRoot, 'dataset folder');

  const rootEntries = await readFolder(absoluteRoot);
  const hasSplitFolders = SPLIT_NAMES.some((name) =>
    rootEntries.some((entry) => entry.name === name && entry.kind === 'folder'),
  );

  if (hasSplitFolders) {
    return listSplitFolders(config, absoluteRoot, rootEntries);
  }
  return listClassFolders(config, absoluteRoot, rootEntries);
}

/** Layout `root/{train,val,test}/<class>/*`. */
async function listSplitFolders(
  config: DatasetConfig,
  root: string,
  rootEntries: Entry[],
): Promise<DatasetListing> {
  const missing = SPLIT_NAMES.filter(
    (name) => !rootEntries.some((entry) => entry.name === name && entry.kind === 'folder'),
  );
  if (missing.length > 0) {
    const names = missing.map((name) => `${name}/`).join(', ');
    throw new DatasetError(`dataset folder ${root} has no ${names} folder`, {
      paths: missing.map((name) => join(root, name)),
      hint: LAYOUT_HINT,
    });
  }

  const classesBySplit = {} as Record<SplitName, string[]>;
  for (const split of SPLIT_NAMES) {
    classesBySplit[split] = await classFolderNames(join(root, split));
  }

  const classNames = classesBySplit.train;
  if (classNames.length === 0) {
    throw noClassesError(join(root, 'train'));
  }
  checkSameClasses(root, classNames, classesBySplit);

  const ignoredPaths: string[] = [];
  const splits = {} as Record<SplitName, DatasetFile[]>;
  const emptyFolders: string[] = [];
  for (const split of SPLIT_NAMES) {
    splits[split] = [];
    for (const [label, className] of classNames.entries()) {
      const folder = join(root, split, className);
      const paths = await imagePathsUnder(folder, ignoredPaths);
      if (paths.length === 0) {
        emptyFolders.push(folder);
      }
      const kept = limit(paths, config.maxPerClass);
      splits[split].push(...kept.map((path) => ({ path, label })));
    }
  }
  ignoredPaths.push(...(await strayFiles(root, rootEntries, true)));

  if (emptyFolders.length > 0) {
    throw emptyClassesError(root, emptyFolders);
  }
  return { root, layout: 'splits', classNames, splits, ignoredPaths };
}

/** Layout `root/<class>/*`, split per class with a seeded shuffle. */
async function listClassFolders(
  config: DatasetConfig,
  root: string,
  rootEntries: Entry[],
): Promise<DatasetListing> {
  const { train, val, seed } = config.split;
  if (train + val > 1) {
    throw new DatasetError(
      `dataset.split.train + dataset.split.val must be at most 1 (the rest is test), ` +
        `got ${train} + ${val} = ${train + val}`,
      { hint: 'Lower dataset.split.train or dataset.split.val in the spec.' },
    );
  }

  const classNames = await classFolderNames(root);
  if (classNames.length === 0) {
    throw noClassesError(root);
  }

  const ignoredPaths: string[] = [];
  const splits: Record<SplitName, DatasetFile[]> = { train: [], val: [], test: [] };
  const emptyFolders: string[] = [];
  for (const [label, className] of classNames.entries()) {
    const folder = join(root, className);
    const paths = await imagePathsUnder(folder, ignoredPaths);
    if (paths.length === 0) {
      emptyFolders.push(folder);
      continue;
    }

    const parts = splitClass(paths, train, val, mixSeeds(seed, hashString(className)));
    for (const split of SPLIT_NAMES) {
      const kept = limit(parts[split], config.maxPerClass);
      splits[split].push(...kept.map((path) => ({ path, label })));
    }
  }
  ignoredPaths.push(...(await strayFiles(root, rootEntries, false)));

  if (emptyFolders.length > 0) {
    throw emptyClassesError(root, emptyFolders);
  }
  return { root, layout: 'classFolders', classNames, splits, ignoredPaths };
}

/**
 * Splits one class's sorted paths into train, val and test: a seeded shuffle, then the first
 * `round(n * trainFraction)` to train, the next `round(n * valFraction)` to val, the rest to
 * test. Each part comes back sorted, so only membership depends on the seed.
 */
export function splitClass(
  sortedPaths: string[],
  trainFraction: number,
  valFraction: number,
  seed: number,
): Record<SplitName, string[]> {
  const shuffled = [...sortedPaths];
  shuffleInPlace(shuffled, mulberry32(seed));

  const trainCount = Math.round(shuffled.length * trainFraction);
  const valCount = Math.min(
    shuffled.length - trainCount,
    Math.round(shuffled.length * valFraction),
  );

  return {
    train: shuffled.slice(0, trainCount).sort(compareNames),
    val: shuffled.slice(trainCount, trainCount + valCount).sort(compareNames),
    test: shuffled.slice(trainCount + valCount).sort(compareNames),
  };
}

/** Every difference between train's classes and val's or test's, in one error. */
function checkSameClasses(
  root: string,
  classNames: string[],
  classesBySplit: Record<SplitName, string[]>,
): void {
  const problems: string[] = [];
  const paths: string[] = [];

  for (const split of ['val', 'test'] as const) {
    const present = new Set(classesBySplit[split]);
    for (const name of classNames) {
      if (!present.has(name)) {
        problems.push(`class '${name}' is in train/ but missing from ${split}/`);
        paths.push(join(root, split, name));
      }
    }

    const known = new Set(classNames);
    for (const name of classesBySplit[split]) {
      if (!known.has(name)) {
        problems.push(`class '${name}' is in ${split}/ but not in train/`);
        paths.push(join(root, split, name));
      }
    }
  }

  if (problems.length > 0) {
    const lines = problems.map((problem) => `  ${problem}`);
    throw new DatasetError([`classes differ between splits in ${root}:`, ...lines].join('\n'), {
      paths,
      hint: 'Give val/ and test/ exactly the class folders of train/ (empty ones are errors too).',
    });
  }
}

function noClassesError(folder: string): DatasetError {
  return new DatasetError(`no class folders in ${folder}`, { paths: [folder], hint: LAYOUT_HINT });
}

function emptyClassesError(root: string, folders: string[]): DatasetError {
  const count =
    folders.length === 1 ? '1 class folder has' : `${folders.length} class folders have`;
  const lines = folders.map((folder) => `  ${folder}`);
  return new DatasetError([`${count} no images in ${root}:`, ...lines].join('\n'), {
    paths: folders,
    hint: `Add images (${IMAGE_EXTENSIONS.join(' ')}) or remove the folder from every split.`,
  });
}

/** Non-hidden folder names directly in `folder`, in plain string order. */
async function classFolderNames(folder: string): Promise<string[]> {
  const entries = await readFolder(folder);
  const names = entries
    .filter((entry) => !isHidden(entry.name) && entry.kind === 'folder')
    .map((entry) => entry.name);
  return names.sort(compareNames);
}

/**
 * Image files anywhere under `folder` (sub-folders included, as Keras walks them; symbolic
 * links to sub-folders are not followed, as Keras's default), sorted by path. Hidden entries
 * and other files are added to `ignored`.
 */
async function imagePathsUnder(folder: string, ignored: string[]): Promise<string[]> {
  const found: string[] = [];
  const entries = await readFolder(folder);

  for (const entry of entries) {
    if (isHidden(entry.name)) {
      ignored.push(entry.path);
    } else if (entry.kind === 'folder') {
      if (!entry.isLink) {
        found.push(...(await imagePathsUnder(entry.path, ignored)));
      }
    } else if (entry.kind === 'file' && isImageFileName(entry.name)) {
      found.push(entry.path);
    } else {
      ignored.push(entry.path);
    }
  }
  return found.sort(compareNames);
}

/**
 * Entries beside the class folders (files in `root`, or in the split folders) that are not
 * used: hidden ones, and any non-folder.
 */
async function strayFiles(
  root: string,
  rootEntries: Entry[],
  splitLayout: boolean,
): Promise<string[]> {
  const stray: string[] = [];
  const splitNames = new Set<string>(SPLIT_NAMES);

  for (const entry of rootEntries) {
    const isClassOrSplit = entry.kind === 'folder' && !isHidden(entry.name);
    if (!isClassOrSplit || (splitLayout && !splitNames.has(entry.name))) {
      stray.push(entry.path);
    }
  }

  if (splitLayout) {
    for (const split of SPLIT_NAMES) {
      const entries = await readFolder(join(root, split));
      for (const entry of entries) {
        if (isHidden(entry.name) || entry.kind !== 'folder') {
          stray.push(entry.path);
        }
      }
    }
  }
  return stray;
}

async function requireFolder(path: string, what: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? error})`;
    throw new DatasetError(`${what} ${path} ${problem}`, {
      paths: [path],
      hint: `Check dataset.root in the spec. ${LAYOUT_HINT}`,
      cause: error,
    });
  }

  if (!isDirectory) {
    throw new DatasetError(`${what} ${path} is a file, not a folder`, {
      paths: [path],
      hint: `Point dataset.root at the folder. ${LAYOUT_HINT}`,
    });
  }
}

/** The entries of `folder`, symbolic links resolved (a broken link is `other`). */
async function readFolder(folder: string): Promise<Entry[]> {
  let dirents;
  try {
    dirents = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    throw new DatasetError(`cannot list folder ${folder}: ${(error as Error).message}`, {
      paths: [folder],
      cause: error,
    });
  }

  const entries: Entry[] = [];
  for (const dirent of dirents) {
    const path = join(folder, dirent.name);
    const isLink = dirent.isSymbolicLink();
    let kind: Entry['kind'] = dirent.isDirectory() ? 'folder' : dirent.isFile() ? 'file' : 'other';
    if (isLink) {
      kind = await linkTargetKind(path);
    }
    entries.push({ name: dirent.name, path, kind, isLink });
  }
  return entries;
}

async function linkTargetKind(path: string): Promise<Entry['kind']> {
  try {
    const target = await stat(path);
    return target.isDirectory() ? 'folder' : target.isFile() ? 'file' : 'other';
  } catch {
    return 'other';
  }
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** Keras sorts with Python's plain string order; the same by UTF-16 code unit here. */
export function compareNames(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}

function limit<T>(items: T[], maxCount: number | undefined): T[] {
  return maxCount === undefined ? items : items.slice(0, maxCount);
}
