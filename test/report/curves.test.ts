import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import sharp from 'sharp';

import { SweepError } from '../../lib/errors.js';
import {
  TRAINING_CURVES_SIZE,
  writeTrainingCurves,
  type TrainingHistory,
} from '../../report/curves.js';
import { COLORS } from '../../report/svg.js';
import { readPixels, rgb, tempFolder } from './report-helpers.js';

function history(epochs: number): TrainingHistory {
  const columns: TrainingHistory = {
    loss: [],
    accuracy: [],
    val_loss: [],
    val_accuracy: [],
    learning_rate: [],
  };
  for (let epoch = 0; epoch < epochs; epoch += 1) {
    (columns.loss as number[]).push(1.5 * Math.exp(-epoch / 4) + 0.2);
    (columns.val_loss as number[]).push(1.4 * Math.exp(-epoch / 4) + 0.4 + 0.01 * epoch);
    (columns.accuracy as number[]).push(0.9 - 0.6 * Math.exp(-epoch / 4));
    (columns.val_accuracy as number[]).push(0.8 - 0.5 * Math.exp(-epoch / 4));
    (columns.learning_rate as number[]).push(0.001);
  }

  return columns;
}

describe('writeTrainingCurves', () => {
  test('curves - writes a 1280x600 PNG', async (t) => {
    const file = join(await tempFolder(t), 'nested', 'curves.png');

    await writeTrainingCurves(history(12), file);

    const metadata = await sharp(file).metadata();
    assert.equal(metadata.format, 'png');
    assert.equal(metadata.width, TRAINING_CURVES_SIZE.width);
    assert.equal(metadata.height, TRAINING_CURVES_SIZE.height);
  });

  test('curves - draws the title text, both series and the best-epoch mark', async (t) => {
    const file = join(await tempFolder(t), 'curves.png');

    await writeTrainingCurves(history(12), file, { bestEpoch: 5 });

    const pixels = await readPixels(file);
    // The bold title is centred near y = 38: text must leave dark pixels there.
    assert.ok(pixels.darkest({ left: 500, top: 15, right: 780, bottom: 45 }) < 80);
    const plot = { left: 90, top: 150, right: 1260, bottom: 520 };
    assert.ok(pixels.contains(rgb(COLORS.train), plot), 'training line');
    assert.ok(pixels.contains(rgb(COLORS.validation), plot), 'validation line');
    assert.ok(pixels.contains(rgb(COLORS.best), plot), 'best-epoch line');
  });

  test('curves - leaves gaps for NaN values instead of failing', async (t) => {
    const file = join(await tempFolder(t), 'curves.png');
    const columns = history(6);
    (columns.val_loss as number[]).fill(Number.NaN);
    (columns.val_accuracy as number[]).fill(Number.NaN);
    (columns.loss as number[])[3] = Number.POSITIVE_INFINITY;

    await writeTrainingCurves(columns, file);

    const pixels = await readPixels(file);
    const plot = { left: 90, top: 150, right: 1260, bottom: 520 };
    assert.ok(!pixels.contains(rgb(COLORS.best), plot), 'no best epoch without val_loss');
  });

  test('curves - draws a single epoch', async (t) => {
    const file = join(await tempFolder(t), 'curves.png');

    await writeTrainingCurves(history(1), file);

    assert.equal((await sharp(file).metadata()).width, TRAINING_CURVES_SIZE.width);
  });

  test('curves - refuses an empty history', async () => {
    await assert.rejects(writeTrainingCurves(history(0), '/nonexistent/curves.png'), {
      name: 'SweepError',
      code: 'REPORT_INPUT_INVALID',
      message: 'training curves: the history is empty; train at least one epoch',
    });
  });

  test('curves - refuses columns of different lengths, listing them', async () => {
    const columns = { ...history(3), learning_rate: [0.001] };

    await assert.rejects(writeTrainingCurves(columns, '/nonexistent/curves.png'), {
      message:
        'training curves: every history column needs one value per epoch; lengths are ' +
        'loss 3, accuracy 3, val_loss 3, val_accuracy 3, learning_rate 1',
    });
  });

  test('curves - refuses a best epoch outside the history', async () => {
    await assert.rejects(writeTrainingCurves(history(3), '/nonexistent/c.png', { bestEpoch: 3 }), {
      message: 'training curves: bestEpoch must be a 0-based epoch below 3; received 3',
    });
  });

  test('curves - says which file could not be written', async (t) => {
    const folder = await tempFolder(t);
    const blocker = join(folder, 'blocker');
    const file = join(blocker, 'curves.png');
    // A plain file where the folder should be makes the write fail.
    await writeFile(blocker, 'not a folder');

    await assert.rejects(writeTrainingCurves(history(2), file), (error: unknown) => {
      assert.ok(error instanceof SweepError);
      assert.equal(error.code, 'REPORT_WRITE_FAILED');
      assert.equal(error.retryable, false);
      assert.ok(error.message.startsWith(`cannot write report image ${file}: `), error.message);
      assert.equal(error.hint, 'Check that the folder is writable and the disk has space.');
      return true;
    });
  });
});
