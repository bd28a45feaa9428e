/**
 * Bad datasets through `sweep start`, which scans the dataset before it starts anything: each
 * is refused with exit code 3 and a message naming the folder or files, and no state folder
 * or embedded server is left. A dataset with hidden and stray files and images of other
 * modes, sizes and formats passes the scan (the command then goes on to Temporal, here an
 * address where nothing listens, and stops there with exit code 4, half-starting nothing).
 * The scan's own cases are in test/data/; these check the path from the command line.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { LAYOUT_HINT } from '../../data/layout.js';
import {
  noisyJpeg,
  pngClaimingSize,
  put,
  rgbaPng,
  solid,
  solidBmp,
  solidPng,
  writeClasses,
  writeSplits,
} from '../data/fixtures.js';
import { cliPlace, type CliPlace } from './bad-input-harness.js';

describe('bad datasets through sweep start', { timeout: 60_000, concurrency: true }, () => {
  let place: CliPlace;
  let data: string;

  before(async () => {
    place = await cliPlace('sweep-bad-dataset-');
    data = join(place.dir, 'data');
  });

  after(async () => {
    await place.dispose();
  });

  /** Writes `<name>.yaml` for the dataset at `root` and runs `sweep start` on it. */
  async function start(name: string, root: string, extraArgs: string[] = []) {
    const spec = `name: ${name}\ndataset:\n  root: ${root}\n  imageSize: 8\n`;
    await writeFile(join(place.dir, `${name}.yaml`), spec);
    return place.sweep(['start', `${name}.yaml`, ...extraArgs]);
  }

  test('bad dataset - a missing folder is named, exit 3, nothing started', async () => {
    const root = join(data, 'missing');
    const run = await start('missing', root);

    assert.equal(
      run.stderr,
      `error: dataset folder ${root} does not exist\n` +
        `hint: Check dataset.root at ${join(place.dir, 'missing.yaml')}:3:9 (a relative root ` +
          `is taken from the spec's folder). ${LAYOUT_HINT}\n`,
    );
    assert.equal(run.code, 3);
    await place.assertNothingStarted();
  });

  test('bad dataset - a root that is a file is named with its spec line', async () => {
    const root = join(place.dir, 'a-file.jpg');
    await writeFile(root, 'not a folder');
    const run = await start('file-root', root);

    assert.equal(
      run.stderr,
      `error: dataset folder ${root} is a file, not a folder\n` +
        `hint: Point dataset.root (${join(place.dir, 'file-root.yaml')}:3:9) at the folder. ` +
        `${LAYOUT_HINT}\n`,
    );
    assert.equal(run.code, 3);
  });

  test('bad dataset - a folder without class folders is refused', async () => {
    const root = join(data, 'no-classes');
    await mkdir(root, { recursive: true });
    await writeFile(join(root, 'photo.jpg'), await noisyJpeg(8, 8));

    const run = await start('no-classes', root);
    assert.equal(run.stderr, `error: no class folders in ${root}\nhint: ${LAYOUT_HINT}\n`);
    assert.equal(run.code, 3);
  });

  test('bad dataset - classes that differ between splits are all listed', async () => {
    const root = join(data, 'differ');
    await writeClasses(join(root, 'train'), { daisy: 1, rose: 1 });
    await writeClasses(join(root, 'val'), { daisy: 1 });
    await writeClasses(join(root, 'test'), { daisy: 1, rose: 1, tulip: 1 });

    const run = await start('differ', root);
    assert.equal(
      run.stderr,
      `error: classes differ between splits in ${root}:\n` +
        "  class 'rose' is in train/ but missing from val/\n" +
        "  class 'tulip' is in test/ but not in train/\n" +
        'hint: Give val/ and test/ exactly the class folders of train/ (empty ones are errors ' +
        'too).\n',
    );
    assert.equal(run.code, 3);
  });

  test('bad dataset - class folders without images are all named', async () => {
    const root = join(data, 'empty-class');
    await writeSplits(root, { daisy: 1 });
    for (const split of ['train', 'test']) await mkdir(join(root, split, 'rose'));
    await mkdir(join(root, 'val', 'rose'));
    await writeFile(join(root, 'val', 'rose', 'notes.txt'), 'no images here');

    const run = await start('empty-class', root);
    assert.equal(
      run.stderr,
      `error: 3 class folders have no images in ${root}:\n` +
        `  ${join(root, 'train', 'rose')}\n` +
        `  ${join(root, 'val', 'rose')}\n` +
        `  ${join(root, 'test', 'rose')}\n` +
        'hint: Add images (.jpg .jpeg .png .bmp .gif .webp .tif .tiff) or remove the folder ' +
        'from every split.\n',
    );
    assert.equal(run.code, 3);
  });

  test('bad dataset - truncated, mislabelled and oversized images are listed in one error',
    async () => {
      const root = join(data, 'bad-files');
      await writeSplits(root, { daisy: 1 });
      const jpeg = await noisyJpeg(64, 64);
      const cut = await put(join(root, 'train', 'daisy', 'cut.jpg'), jpeg.subarray(0, 400));
      const text = await put(join(root, 'val', 'daisy', 'text.jpg'), 'not a photo');
      const bomb = await pngClaimingSize(10_000, 6000);
      const huge = await put(join(root, 'test', 'daisy', 'huge.png'), bomb);

      const run = await start('bad-files', root);
      const lines = run.stderr.split('\n');
      assert.equal(lines[0], `error: 3 bad image files in ${root}:`);
      // Sorted by path: test/, train/, val/. The JPEG decoder's words vary with timing.
      assert.equal(
        lines[1],
        `  ${huge}: image is 10000x6000 (60 megapixels), over the limit of 50 megapixels`,
      );
      assert.match(lines[2] ?? '', /: truncated or corrupt image data \(.+\)$/);
      assert.ok(lines[2]?.startsWith(`  ${cut}: `));
      assert.equal(
        lines[3],
        `  ${text}: content does not match the .jpg extension: not a readable image ` +
          '(Input buffer contains unsupported image format)',
      );
      assert.equal(
        lines[4],
        'hint: Remove or replace these files, or set dataset.onCorrupt: skip to train without ' +
          'them.',
      );
      assert.equal(run.code, 3);
    });

  test('bad dataset - hidden and stray files, other modes, sizes and formats pass the scan',
    async () => {
      const root = join(data, 'mixed');
      await writeSplits(root, { daisy: 1, rose: 1 });
      const daisy = join(root, 'train', 'daisy');
      const gray = await solid(8, 8, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
      await put(join(daisy, 'gray.png'), gray);
      await put(join(daisy, 'alpha.png'), await rgbaPng(8, 8, [200, 10, 10], 128));
      await put(join(daisy, 'old.bmp'), solidBmp(12, 7, [1, 2, 3]));
      await put(join(daisy, 'wide.jpg'), await noisyJpeg(40, 10));
      await put(join(daisy, 'really-a-png.jpg'), await solidPng(8, 8, [9, 9, 9]));
      await put(join(daisy, '.DS_Store'), 'finder data');
      await put(join(root, 'README.txt'), 'where the photos came from');
      await put(join(root, 'val', '.hidden', 'x.png'), await solidPng(8, 8, [0, 0, 0]));

      const nowhere = ['--temporal-address', '127.0.0.1:1', '--no-tracking'];
      const run = await start('mixed', root, nowhere);
      assert.equal(
        run.stderr,
        'error: cannot reach Temporal at 127.0.0.1:1 (namespace default): connection refused ' +
          '(nothing listens there)\n' +
          'hint: Check --temporal-address / TEMPORAL_ADDRESS, or unset it to use the embedded ' +
          'server.\n',
      );
      assert.equal(run.code, 4);
      await place.assertNothingStarted();
    });
});
