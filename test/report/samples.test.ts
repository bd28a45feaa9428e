import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import sharp from 'sharp';

import { SAMPLE_GRID_SIZE, writeSampleGrid, type Sample } from '../../report/samples.js';
import { COLORS } from '../../report/svg.js';
import { readPixels, rgb, tempFolder } from './report-helpers.js';

/** A 2x2 image: red, green / blue, yellow. */
function quad(overrides: Partial<Sample> = {}): Sample {
  const image = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0]);
  return { image, height: 2, width: 2, trueLabel: 'rose', ...overrides };
}

// The first cell's image starts at (32, 84) and is 256 px square; the third is 288 px right.
const FIRST = { left: 32, top: 84 };

describe('writeSampleGrid', () => {
  test('samples - writes an 896x768 PNG', async (t) => {
    const file = join(await tempFolder(t), 'samples.png');

    await writeSampleGrid([quad()], file, 'Training images');

    const metadata = await sharp(file).metadata();
    assert.equal(metadata.format, 'png');
    assert.equal(metadata.width, SAMPLE_GRID_SIZE.width);
    assert.equal(metadata.height, SAMPLE_GRID_SIZE.height);
    assert.deepEqual(SAMPLE_GRID_SIZE, { width: 896, height: 768 });
  });

  test('samples - enlarges with nearest-neighbour sampling, so edges stay sharp', async (t) => {
    const file = join(await tempFolder(t), 'samples.png');

    await writeSampleGrid([quad()], file);

    const pixels = await readPixels(file);
    const { left, top } = FIRST;
    // Each source pixel becomes a 128 px block; the pixels either side of the seam are pure.
    assert.deepEqual(pixels.at(left + 127, top + 127), [255, 0, 0]);
    assert.deepEqual(pixels.at(left + 128, top + 127), [0, 255, 0]);
    assert.deepEqual(pixels.at(left + 127, top + 128), [0, 0, 255]);
    assert.deepEqual(pixels.at(left + 128, top + 128), [255, 255, 0]);
  });

  test('samples - frames wrong predictions in red and captions them', async (t) => {
    const file = join(await tempFolder(t), 'samples.png');
    const samples = [
      quad({ predictedLabel: 'rose', probability: 0.91 }),
      quad({ predictedLabel: 'tulip', probability: 0.83 }),
    ];

    await writeSampleGrid(samples, file, 'Test predictions');

    const pixels = await readPixels(file);
    const red = rgb(COLORS.wrong);
    const frameOf = (cell: number) => pixels.at(FIRST.left + cell * 288 - 2, FIRST.top + 100);
    assert.notDeepEqual(frameOf(0), red, 'right prediction has no red frame');
    assert.deepEqual(frameOf(1), red, 'wrong prediction has a red frame');

    // Captions sit under the image: green text for the right one, red for the wrong one.
    const caption = (cell: number) => ({
      left: FIRST.left + cell * 288,
      top: FIRST.top + 256 + 30,
      right: FIRST.left + cell * 288 + 256,
      bottom: FIRST.top + 256 + 55,
    });
    assert.ok(pixels.contains(rgb(COLORS.right), caption(0)), 'green caption');
    assert.ok(pixels.contains(red, caption(1)), 'red caption');
    const trueLine = { ...caption(0), top: FIRST.top + 260, bottom: FIRST.top + 285 };
    assert.ok(pixels.darkest(trueLine) < 80, 'dark "true:" caption');
  });

  test('samples - refuses more than six images', async () => {
    const seven = Array.from({ length: 7 }, () => quad());

    await assert.rejects(writeSampleGrid(seven, '/nonexistent/s.png'), {
      name: 'SweepError',
      code: 'REPORT_INPUT_INVALID',
      message: 'sample grid: needs 1 to 6 samples; received 7',
    });
  });

  test('samples - refuses an image whose byte count does not match its size', async () => {
    const bad = quad({ height: 3 });

    await assert.rejects(writeSampleGrid([quad(), bad], '/nonexistent/s.png'), {
      message: 'sample grid: sample 1 has 12 bytes for 3x2 RGB; expected 18',
    });
  });
});
