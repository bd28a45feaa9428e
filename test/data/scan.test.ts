import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { scanDataset } from '../../data/scan.js';
import { DatasetError } from '../../lib/errors.js';

import {
  captureLogger,
  datasetConfig,
  noisyJpeg,
  pngClaimingSize,
  put,
  solidBmp,
  solidPng,
  tempFolder,
  writeSplits,
} from './fixtures.js';

/** A dataset with one truncated JPEG and one text file named .jpg in train/daisy. */
async function datasetWithBadFiles(root: string): Promise<{ truncated: string; text: string }> {
  await writeSplits(root, { daisy: 2, rose: 2 });
  const jpeg = await noisyJpeg(64, 64);
  const folder = join(root, 'train', 'daisy');
  const truncated = await put(join(folder, 'cut.jpg'), jpeg.subarray(0, jpeg.length / 2));
  const text = await put(join(folder, 'notes.jpg'), 'these are my notes\n');
  return { truncated, text };
}

describe('dataset scan', () => {
  test('scan - reports a truncated JPEG and a text file named .jpg in one error', async (t) => {
    const root = await tempFolder(t);
    const { truncated, text } = await datasetWithBadFiles(root);

    await assert.rejects(scanDataset(datasetConfig(root)), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(error.code, 'DATASET_INVALID');
      assert.deepEqual(error.paths, [truncated, text]);
      const [title, first, second] = error.message.split('\n');
      assert.equal(title, `2 bad image files in ${root}:`);
      // The decoder's own words vary with thread timing (see decoderDetail).
      assert.match(first ?? '', /^ {2}.+: truncated or corrupt image data \(.+\)$/);
      assert.ok(first?.startsWith(`  ${truncated}: `));
      assert.equal(
        second,
        `  ${text}: content does not match the .jpg extension: not a readable image ` +
          '(Input buffer contains unsupported image format)',
      );
      assert.match(error.hint ?? '', /dataset\.onCorrupt: skip/);
      return true;
    });
  });

  test('scan - skip mode drops bad files and lists them in one warning', async (t) => {
    const root = await tempFolder(t);
    const { truncated, text } = await datasetWithBadFiles(root);
    const { log, records } = captureLogger();

    const scan = await scanDataset(datasetConfig(root, { onCorrupt: 'skip' }), { log });

    assert.deepEqual(scan.skipped.map((item) => item.path), [truncated, text]);
    assert.equal(scan.splits.train.length, 4);
    assert.ok(scan.splits.train.every((file) => !file.path.endsWith('.jpg')));

    const warnings = records.filter((record) => record.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.msg, 'dataset images skipped (onCorrupt: skip)');
    assert.equal(warnings[0]?.count, 2);
  });

  test('scan - refuses an image over 50 megapixels before decoding it', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const bomb = await pngClaimingSize(10000, 6000);
    const huge = await put(join(root, 'val', 'daisy', 'huge.png'), bomb);

    await assert.rejects(scanDataset(datasetConfig(root)), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.equal(
        error.message,
        `1 bad image file in ${root}:\n` +
          `  ${huge}: image is 10000x6000 (60 megapixels), over the limit of 50 megapixels`,
      );
      return true;
    });
  });

  test('scan - tells an empty file and a broken header apart from wrong content', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const folder = join(root, 'val', 'daisy');
    const empty = await put(join(folder, 'empty.png'), '');
    const header = await put(join(folder, 'header.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0]));

    await assert.rejects(scanDataset(datasetConfig(root)), {
      message:
        `2 bad image files in ${root}:\n` +
        `  ${empty}: empty file\n` +
        `  ${header}: unreadable image header (Input buffer has corrupt header: ` +
        'VipsJpeg: premature end of JPEG image)',
    });
  });

  test('scan - reports a truncated BMP', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const bmp = solidBmp(16, 16, [1, 2, 3]);
    const cut = await put(join(root, 'train', 'daisy', 'cut.bmp'), bmp.subarray(0, 300));

    await assert.rejects(scanDataset(datasetConfig(root)), (error: unknown) => {
      assert.ok(error instanceof DatasetError);
      assert.deepEqual(error.paths, [cut]);
      assert.match(error.message, /cut\.bmp: truncated or corrupt image data \(.+\)$/);
      return true;
    });
  });

  test('scan - takes a lower pixel limit from the options', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });

    await assert.rejects(scanDataset(datasetConfig(root), { maxImagePixels: 50 }), {
      message: /img-00\.png: image is 8x8 \(64 pixels\), over the limit of 50 pixels$/m,
    });
  });

  test('scan - counts ignored files in one warning', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    await put(join(root, 'train', 'daisy', 'notes.txt'), 'x');
    await put(join(root, 'train', 'daisy', '.thumb.png'), await solidPng(2, 2, [0, 0, 0]));
    const { log, records } = captureLogger();

    const scan = await scanDataset(datasetConfig(root), { log });

    assert.equal(scan.ignoredCount, 2);
    const warnings = records.filter((record) => record.level === 40);
    assert.deepEqual(
      warnings.map((record) => [record.msg, record.ignoredCount]),
      [['dataset files ignored (hidden or not an image)', 2]],
    );
  });

  test('scan - decodes a PNG named .jpg and names it in a warning', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const png = await solidPng(8, 8, [9, 9, 9]);
    const misnamed = await put(join(root, 'test', 'daisy', 'really-a-png.jpg'), png);
    const { log, records } = captureLogger();

    const scan = await scanDataset(datasetConfig(root), { log });

    assert.equal(scan.splits.test.length, 2);
    const warning = records.find((record) => record.level === 40);
    assert.deepEqual(warning?.paths, [misnamed]);
  });

  test('scan - uses options.root instead of config.root', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1, rose: 1 });

    const scan = await scanDataset(datasetConfig('relative/in/spec'), { root });

    assert.equal(scan.root, root);
    assert.deepEqual(scan.classNames, ['daisy', 'rose']);
    assert.deepEqual([scan.height, scan.width], [8, 8]);
  });
});
