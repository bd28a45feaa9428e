import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';

import sharp from 'sharp';

import { loadDataset, type SplitData } from '../../data/dataset.js';

import {
  captureLogger,
  datasetConfig,
  noisyJpeg,
  put,
  rgbaPng,
  solid,
  solidBmp,
  solidPng,
  tempFolder,
  writeClasses,
  writeSplits,
} from './fixtures.js';

const FLOWERS = '/work/shared/datasets/flowers';

/** RGB of pixel (x, y) of image `index` in a split. */
function pixel(split: SplitData, index: number, x: number, y: number): number[] {
  const at = ((index * split.height + y) * split.width + x) * 3;
  return [...split.images.subarray(at, at + 3)];
}

/** Index of the image whose file name is `name`. */
function indexOf(split: SplitData, name: string): number {
  const index = split.paths.findIndex((path) => basename(path) === name);
  assert.notEqual(index, -1, `${name} is not in the split`);
  return index;
}

describe('dataset load', () => {
  test('load - keeps each split as one contiguous RGB buffer with labels and paths', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 2, rose: 3 });

    const data = await loadDataset(datasetConfig(root), { root });

    assert.deepEqual(data.classNames, ['daisy', 'rose']);
    assert.equal(data.train.count, 5);
    assert.equal(data.train.images.length, 5 * 8 * 8 * 3);
    assert.deepEqual([...data.train.labels], [0, 0, 1, 1, 1]);
    assert.deepEqual(data.train.paths.map((path) => basename(path)), [
      'img-00.png', 'img-01.png', 'img-00.png', 'img-01.png', 'img-02.png',
    ]);
    assert.equal(data.train.numClasses, 2);
    // writeClasses colours: red = 40 * class, green = image number, blue = 7.
    assert.deepEqual(pixel(data.train, 4, 7, 7), [40, 2, 7]);
  });

  test('load - converts grayscale, palette, RGBA, CMYK and BMP to 3-channel RGB', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const folder = join(root, 'train', 'daisy');
    const gray = await solid(8, 8, [77, 77, 77]).toColourspace('b-w').png().toBuffer();
    await put(join(folder, 'gray.png'), gray);
    await put(join(folder, 'palette.png'), await solidPng(8, 8, [200, 100, 50]).then(
      (png) => sharp(png).png({ palette: true, colours: 4 }).toBuffer(),
    ));
    await put(join(folder, 'rgba.png'), await rgbaPng(8, 8, [10, 20, 30], 128));
    const cmyk = await solid(8, 8, [255, 255, 255])
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    await put(join(folder, 'cmyk.jpg'), cmyk);
    await put(join(folder, 'bitmap.bmp'), solidBmp(8, 8, [1, 128, 254]));

    const fixtures = await Promise.all(
      ['gray.png', 'palette.png', 'rgba.png', 'cmyk.jpg'].map((name) =>
        sharp(join(folder, name)).metadata(),
      ),
    );
    assert.deepEqual(
      fixtures.map((meta) => [meta.space, meta.channels, meta.isPalette === true]),
      [['b-w', 1, false], ['srgb', 3, true], ['srgb', 4, false], ['cmyk', 4, false]],
    );

    const data = await loadDataset(datasetConfig(root), { root });
    const train = data.train;

    assert.equal(train.images.length, train.count * 8 * 8 * 3);
    assert.deepEqual(pixel(train, indexOf(train, 'gray.png'), 3, 3), [77, 77, 77]);
    assert.deepEqual(pixel(train, indexOf(train, 'palette.png'), 3, 3), [200, 100, 50]);
    // Alpha is dropped, not blended onto black (which would give about [5, 10, 15]).
    assert.deepEqual(pixel(train, indexOf(train, 'rgba.png'), 3, 3), [10, 20, 30]);
    assert.deepEqual(pixel(train, indexOf(train, 'cmyk.jpg'), 3, 3), [255, 255, 255]);
    assert.deepEqual(pixel(train, indexOf(train, 'bitmap.bmp'), 3, 3), [1, 128, 254]);
  });

  test('load - decodes GIF, WebP and TIFF', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    const folder = join(root, 'test', 'daisy');
    await put(join(folder, 'a.gif'), await solid(8, 8, [255, 0, 0]).gif().toBuffer());
    const webp = await solid(8, 8, [0, 0, 255]).webp({ lossless: true }).toBuffer();
    await put(join(folder, 'b.webp'), webp);
    const tiff = await solid(8, 8, [0, 255, 0]).tiff({ compression: 'lzw' }).toBuffer();
    await put(join(folder, 'c.tif'), tiff);

    const data = await loadDataset(datasetConfig(root), { root });
    const split = data.test;

    assert.deepEqual(pixel(split, indexOf(split, 'a.gif'), 1, 1), [255, 0, 0]);
    assert.deepEqual(pixel(split, indexOf(split, 'b.webp'), 1, 1), [0, 0, 255]);
    assert.deepEqual(pixel(split, indexOf(split, 'c.tif'), 1, 1), [0, 255, 0]);
  });

  test('load - resizes other sizes with nearest neighbour to [height, width]', async (t) => {
    const root = await tempFolder(t);
    await writeSplits(root, { daisy: 1 });
    // 2x2 quadrants: nearest neighbour keeps pure colours, bilinear would blend at the seams.
    const quadrants = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
    const raw = { width: 2, height: 2, channels: 3 } as const;
    const png = await sharp(quadrants, { raw }).png().toBuffer();
    await put(join(root, 'train', 'daisy', 'quadrants.png'), png);

    const data = await loadDataset(datasetConfig(root, { imageSize: [4, 6] }), { root });
    const index = indexOf(data.train, 'quadrants.png');

    assert.deepEqual([data.train.height, data.train.width], [4, 6]);
    assert.deepEqual(pixel(data.train, index, 0, 0), [255, 0, 0]);
    assert.deepEqual(pixel(data.train, index, 2, 1), [255, 0, 0]);
    assert.deepEqual(pixel(data.train, index, 3, 1), [0, 255, 0]);
    assert.deepEqual(pixel(data.train, index, 5, 0), [0, 255, 0]);
    assert.deepEqual(pixel(data.train, index, 0, 2), [0, 0, 255]);
    assert.deepEqual(pixel(data.train, index, 5, 3), [255, 255, 255]);
  });

  test('load - skip mode leaves out bad files and keeps the rest in order', async (t) => {
    const root = await tempFolder(t);
    await writeClasses(join(root, 'train'), { daisy: 2, rose: 2 });
    await writeClasses(join(root, 'val'), { daisy: 1, rose: 1 });
    await writeClasses(join(root, 'test'), { daisy: 1, rose: 1 });
    const jpeg = await noisyJpeg(32, 32);
    await put(join(root, 'train', 'daisy', 'img-00b.jpg'), jpeg.subarray(0, jpeg.length / 2));

    const { log } = captureLogger();

    const data = await loadDataset(datasetConfig(root, { onCorrupt: 'skip' }), { root, log });

    assert.deepEqual(data.skipped.map((item) => basename(item.path)), ['img-00b.jpg']);
    assert.equal(data.train.count, 4);
    assert.equal(data.train.images.length, 4 * 8 * 8 * 3);
    assert.deepEqual([...data.train.labels], [0, 0, 1, 1]);
    assert.deepEqual(
      [0, 1, 2, 3].map((index) => pixel(data.train, index, 0, 0)),
      [[0, 0, 7], [0, 1, 7], [40, 0, 7], [40, 1, 7]],
    );
  });

  const noFlowers = !existsSync(FLOWERS);
  test('load - reads a small subset of the real flowers data', { skip: noFlowers }, async () => {
    const data = await loadDataset(datasetConfig(FLOWERS, { imageSize: 128, maxPerClass: 3 }));

    assert.deepEqual(data.classNames, ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip']);
    for (const split of [data.train, data.val, data.test]) {
      assert.equal(split.count, 15);
      assert.equal(split.images.length, 15 * 128 * 128 * 3);
      assert.deepEqual([...split.labels], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }
    // Real photos are not blank.
    const sum = data.train.images.reduce((total, value) => total + value, 0);
    const mean = sum / data.train.images.length;
    assert.ok(mean > 20 && mean < 235, `mean pixel ${mean}`);
  });
});
