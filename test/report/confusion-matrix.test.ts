import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import sharp from 'sharp';

import { confusionMatrix, writeConfusionMatrix } from '../../report/confusion-matrix.js';
import { readPixels, tempFolder } from './report-helpers.js';

const FLOWERS = ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip'];

describe('confusionMatrix', () => {
  test('confusion-matrix - counts true classes on rows and predictions on columns', () => {
    const truth = Int32Array.from([0, 0, 1, 1, 1, 2, 2]);
    const predicted = Int32Array.from([0, 1, 1, 1, 2, 2, 0]);

    assert.deepEqual(confusionMatrix(truth, predicted, 3), [
      [1, 1, 0],
      [0, 2, 1],
      [1, 0, 1],
    ]);
  });

  test('confusion-matrix - has a zero row for a class with no images', () => {
    const matrix = confusionMatrix(Int32Array.from([0]), Int32Array.from([2]), 3);

    assert.deepEqual(matrix, [
      [0, 0, 1],
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  test('confusion-matrix - refuses a class index out of range, naming its position', () => {
    assert.throws(() => confusionMatrix(Int32Array.from([0, 1]), Int32Array.from([0, 5]), 5), {
      name: 'SweepError',
      code: 'REPORT_INPUT_INVALID',
      message:
        'confusion matrix: prediction at position 1 is 5; class indices must be in [0, 4]',
    });
  });

  test('confusion-matrix - refuses labels and predictions of different lengths', () => {
    assert.throws(() => confusionMatrix(Int32Array.from([0, 1]), Int32Array.from([0]), 2), {
      message: 'confusion matrix: 2 true labels but 1 predictions; pass one prediction per image',
    });
  });
});

describe('writeConfusionMatrix', () => {
  test('confusion-matrix - writes a heat map PNG sized for five classes', async (t) => {
    const file = join(await tempFolder(t), 'confusion.png');
    const matrix = [
      [20, 0, 0, 0, 0],
      [1, 17, 1, 1, 0],
      [0, 0, 12, 0, 8],
      [0, 2, 0, 18, 0],
      [0, 0, 5, 0, 15],
    ];

    await writeConfusionMatrix(matrix, FLOWERS, file, 'Confusion matrix (test split)');

    const metadata = await sharp(file).metadata();
    assert.equal(metadata.format, 'png');
    assert.equal(metadata.width, 919);
    assert.equal(metadata.height, 800);

    // A row that is all on the diagonal gets the darkest blue; text leaves dark pixels.
    const pixels = await readPixels(file);
    assert.ok(pixels.contains([8, 48, 107]), 'darkest shade for a 100% cell');
    assert.ok(pixels.darkest({ left: 250, top: 15, right: 650, bottom: 45 }) < 80, 'title');
  });

  test('confusion-matrix - slants long class names and still writes', async (t) => {
    const file = join(await tempFolder(t), 'confusion.png');
    const names = ['a_very_long_class_name_indeed', 'b'];

    await writeConfusionMatrix([[3, 1], [0, 0]], names, file);

    assert.equal((await sharp(file).metadata()).format, 'png');
  });

  test('confusion-matrix - refuses a matrix that does not match the class names', async () => {
    const ragged = [[1, 2], [3]];

    await assert.rejects(writeConfusionMatrix(ragged, ['a', 'b'], '/nonexistent/c.png'), {
      name: 'SweepError',
      code: 'REPORT_INPUT_INVALID',
      message:
        'confusion matrix: expected 2x2 counts for 2 class names; ' +
        'received 2 rows of lengths [2, 1]',
    });
  });

  test('confusion-matrix - refuses a fractional count', async () => {
    const fractional = [[1, 0.5], [0, 1]];

    await assert.rejects(writeConfusionMatrix(fractional, ['a', 'b'], '/nonexistent/c.png'), {
      message:
        'confusion matrix: count at row 0, column 1 must be a whole number, 0 or more; ' +
        'received 0.5',
    });
  });
});
