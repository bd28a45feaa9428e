import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';

import { listDataset, splitClass } from '../../data/layout.js';
import { DatasetError } from '../../lib/errors.js';

import { datasetConfig, put, solidPng, tempFolder, writeClasses, writeSplits } from './fixtures.js';

function names(paths: string[]): string[] {
  return paths.map((path) => basename(path));
}

describe('dataset layout', () => {
  test('list - takes classes from train in plain string order and labels by it', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { tulip: 1, Daisy: 1, dandelion: 1, rose: 1 });

    const listing = await listDataset(datasetConfig(root), root);

    // Plain string order puts upper case first, as Python's sorted() does for Keras.
    assert.deepEqual(listing.classNames, ['Daisy', 'dandelion', 'rose', 'tulip']);
    assert.equal(listing.layout, 'splits');
    assert.deepEqual(
      listing.splits.val.map((file) => [basename(join(file.path, '..')), file.label]),
      [['Daisy', 0], ['dandelion', 1], ['rose', 2], ['tulip', 3]],
    );
  });

  test('list - names every class missing from or extra in val and test at once', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(join(root, 'train'), { daisy: 1, rose: 1, tulip: 1 });
    await writeClasses(join(root, 'val'), { daisy: 1, rose: 1 });
    await writeClasses(join(root, 'test'), { daisy: 1, rose: 1, tulip: 1, lily: 1 });

    await assert.rejects(listDataset(datasetConfig(root), root), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `classes differ between splits in ${root}:\n` +
          "  class 'tulip' is in train/ but missing from val/\n" +
          "  class 'lily' is in test/ but not in train/",
      );
      assert.deepEqual(error.paths, [join(root, 'val', 'tulip'), join(root, 'test', 'lily')]);
      assert.equal(error.retryable, false);
      return true;
    });
  });

  test('list - reports every class folder without images, naming it', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1, rose: 1 });
    await mkdir(join(root, 'train', 'tulip'));
    await mkdir(join(root, 'val', 'tulip'));
    await mkdir(join(root, 'test', 'tulip'));
    await put(join(root, 'val', 'tulip', 'notes.txt'), 'not an image');

    await assert.rejects(listDataset(datasetConfig(root), root), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `3 class folders have no images in ${root}:\n` +
          `  ${join(root, 'train', 'tulip')}\n` +
          `  ${join(root, 'val', 'tulip')}\n` +
          `  ${join(root, 'test', 'tulip')}`,
      );
      return true;
    });
  });

  test('list - matches image extensions in any letter case', async (t) => {
    const root = await tempFolder(t);
    const png = await solidPng(4, 4, [1, 2, 3]);
    const files = ['a.JPG', 'b.Jpeg', 'c.PNG', 'd.webp', 'e.TIFF', 'f.tif', 'g.Gif', 'h.BMP'];
    for (const name of files) {
      await put(join(root, 'only', name), png);
    }

    const config = datasetConfig(root, { split: { train: 1, val: 0, seed: 1 } });

    const listing = await listDataset(config, root);

    assert.equal(listing.layout, 'classFolders');
    assert.deepEqual(names(listing.splits.train.map((file) => file.path)), files);
  });

  test('list - ignores hidden entries and non-image files, and returns them', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 2 });
    const png = await solidPng(4, 4, [1, 2, 3]);
    await put(join(root, 'train', 'daisy', '.hidden.png'), png);
    await put(join(root, 'train', 'daisy', 'README.txt'), 'about daisies');
    await put(join(root, 'train', '.cache', 'x.png'), png);
    await put(join(root, '.DS_Store'), 'finder junk');
    await put(join(root, 'train', 'daisy', 'nested', 'deep.png'), png);

    const listing = await listDataset(datasetConfig(root), root);

    assert.deepEqual(listing.classNames, ['daisy']);
    assert.deepEqual(names(listing.splits.train.map((file) => file.path)), [
      'img-00.png', 'img-01.png', 'deep.png',
    ]);
    assert.deepEqual(names(listing.ignoredPaths).sort(), [
      '.DS_Store', '.cache', '.hidden.png', 'README.txt',
    ]);
  });

  test('list - follows a symbolic link to a class folder', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(join(root, 'real'), { daisy: 1 });
    await mkdir(join(root, 'data'));
    for (const split of ['train', 'val', 'test']) {
      await symlink(join(root, 'real', split), join(root, 'data', split));
    }

    const listing = await listDataset(datasetConfig(root), join(root, 'data'));

    assert.deepEqual(listing.classNames, ['daisy']);
    assert.equal(listing.splits.test.length, 1);
  });

  test('list - names a missing root and says which layout is expected', async (t) => {
    const root = join(await tempFolder(t), 'nowhere');

    await assert.rejects(listDataset(datasetConfig(root), root), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.message, `dataset folder ${root} does not exist`);
      assert.match(error.hint ?? '', /<root>\/train\/<class>\/<images>/);
      assert.deepEqual(error.paths, [root]);
      return true;
    });
  });

  test('list - refuses a root that is a file', async (t) => {
    const file = await put(join(await tempFolder(t), 'flowers.zip'), 'zip');

    await assert.rejects(listDataset(datasetConfig(file), file), {
      message: `dataset folder ${file} is a file, not a folder`,
    });
  });

  test('list - refuses a root without class folders', async (t) => {
    const root = await tempFolder(t);
    await put(join(root, 'a.png'), await solidPng(4, 4, [1, 2, 3]));

    await assert.rejects(listDataset(datasetConfig(root), root), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.message, `no class folders in ${root}`);
      assert.match(error.hint ?? '', /Expected <root>\/train\/<class>\/<images>/);
      return true;
    });
  });

  test('list - names the split folders missing beside train', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(join(root, 'train'), { daisy: 1 });

    await assert.rejects(listDataset(datasetConfig(root), root), {
      message: `dataset folder ${root} has no val/, test/ folder`,
    });
  });

  test('list - maxPerClass keeps the first N files of each class in each split', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 4, rose: 2 });

    const listing = await listDataset(datasetConfig(root, { maxPerClass: 3 }), root);

    assert.deepEqual(
      listing.splits.train.map((file) => `${file.label}/${basename(file.path)}`),
      ['0/img-00.png', '0/img-01.png', '0/img-02.png', '1/img-00.png', '1/img-01.png'],
    );
  });
});

describe('single folder of classes', () => {
  test('split - gives the same split for the same seed, in the set proportions', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(root, { cats: 20, dogs: 20 });
    const config = datasetConfig(root, { split: { train: 0.5, val: 0.25, seed: 7 } });

    const first = await listDataset(config, root);
    const second = await listDataset(config, root);

    assert.equal(first.layout, 'classFolders');
    assert.deepEqual(first.splits, second.splits);
    for (const label of [0, 1]) {
      const count = (split: 'train' | 'val' | 'test') =>
        first.splits[split].filter((file) => file.label === label).length;
      assert.deepEqual([count('train'), count('val'), count('test')], [10, 5, 5]);
    }

    const all = [...first.splits.train, ...first.splits.val, ...first.splits.test];
    assert.equal(new Set(all.map((file) => file.path)).size, 40);
  });

  test('split - a different seed gives a different split', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(root, { cats: 20 });

    const withSeed = (seed: number) =>
      listDataset(datasetConfig(root, { split: { train: 0.5, val: 0.25, seed } }), root);

    const seven = await withSeed(7);
    const eight = await withSeed(8);

    assert.notDeepEqual(seven.splits.train, eight.splits.train);
  });

  test('split - keeps each part sorted and depends only on the seed and the paths', () => {
    const paths = Array.from({ length: 10 }, (_, i) => `/d/c/${i}.png`);

    const parts = splitClass(paths, 0.7, 0.15, 123);

    assert.deepEqual(parts, splitClass([...paths], 0.7, 0.15, 123));
    assert.deepEqual(
      [parts.train.length, parts.val.length, parts.test.length],
      [7, 2, 1],
    );
    assert.deepEqual(parts.train, [...parts.train].sort());
  });

  test('split - refuses train and val fractions adding up to more than 1', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(root, { cats: 2 });

    await assert.rejects(
      listDataset(datasetConfig(root, { split: { train: 0.75, val: 0.5, seed: 1 } }), root),
      {
        message:
          'dataset.split.train + dataset.split.val must be at most 1 (the rest is test), ' +
          'got 0.75 + 0.5 = 1.25',
      },
    );
  });
});
