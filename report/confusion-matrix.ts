/**
 * The confusion matrix: counting it from labels, and drawing it as a heat map PNG with the
 * count in every cell, true classes on rows and predicted classes on columns.
 */
import {
  COLORS,
  estimateTextWidth,
  reportInputError,
  svgDocument,
  text,
  writeSvgAsPng,
} from './svg.js';

/**
 * Counts predictions per (true, predicted) class pair: `matrix[t][p]` is how many images of
 * true class `t` were predicted as `p`, so rows sum to the class sizes and the diagonal holds
 * the correct predictions.
 *
 * @param trueLabels class index of each image, in `[0, classCount)`.
 * @param predicted predicted class index of each image, same length and range.
 * @param classCount number of classes, a whole number >= 1.
 * @throws SweepError `REPORT_INPUT_INVALID` for different lengths or an index out of range,
 *   naming the first offending position and value.
 */
export function confusionMatrix(
  trueLabels: Int32Array,
  predicted: Int32Array,
  classCount: number,
): number[][] {
  if (!(Number.isInteger(classCount) && classCount >= 1)) {
    throw reportInputError(
      `confusion matrix: classCount must be a whole number, at least 1; received ${classCount}`,
    );
  }

  if (trueLabels.length !== predicted.length) {
    throw reportInputError(
      `confusion matrix: ${trueLabels.length} true labels but ${predicted.length} predictions; ` +
        'pass one prediction per image',
    );
  }

  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  for (let index = 0; index < trueLabels.length; index += 1) {
    const truth = trueLabels[index] ?? -1;
    const guess = predicted[index] ?? -1;
    checkClass('true label', index, truth, classCount);
    checkClass('prediction', index, guess, classCount);

    const row = matrix[truth];
    if (row !== undefined) {
      row[guess] = (row[guess] ?? 0) + 1;
    }
  }

  return matrix;
}

function checkClass(what: string, index: number, value: number, classCount: number): void {
  if (value < 0 || value >= classCount) {
    throw reportInputError(
      `confusion matrix: ${what} at position ${index} is ${value}; ` +
        `class indices must be in [0, ${classCount - 1}]`,
    );
  }
}

const TITLE_Y = 40;
const SUBTITLE_Y = 68;
const MATRIX_TOP = 110;
const MARGIN = 40;

/**
 * Writes the confusion matrix as a heat map PNG. Each cell shows its count and, below it, its
 * share of the true class (the row); the shade follows that share, so the diagonal reads as
 * per-class recall whatever the class sizes. A recall column sits on the right and the
 * subtitle gives the overall accuracy. The image size depends on the number of classes
 * (about 900x800 for five).
 *
 * @param matrix square counts, `matrix[true][predicted]`, as `confusionMatrix` returns.
 * @param classNames one name per row/column, in class-index order.
 * @param file PNG path; its folder is created.
 * @param title default `Confusion matrix`.
 * @throws SweepError `REPORT_INPUT_INVALID` when the matrix is not square, does not match the
 *   class names or holds a negative or fractional count; `REPORT_WRITE_FAILED` when the file
 *   cannot be written.
 */
export async function writeConfusionMatrix(
  matrix: number[][],
  classNames: string[],
  file: string,
  title = 'Confusion matrix',
): Promise<void> {
  checkMatrix(matrix, classNames);

  const size = classNames.length;
  const cell = Math.max(48, Math.min(120, Math.floor(600 / size)));
  const labelSize = cell >= 80 ? 15 : 13;
  const longest = Math.max(...classNames.map((name) => estimateTextWidth(name, labelSize)));
  const rotateColumns = longest > cell - 8;

  const rowTotals = matrix.map((row) => row.reduce((sum, count) => sum + count, 0));
  const total = rowTotals.reduce((sum, count) => sum + count, 0);
  const correct = matrix.reduce((sum, row, index) => sum + (row[index] ?? 0), 0);
  const caption = subtitle(correct, total);

  // Rows: axis title, class names, matrix, recall column. Columns: names under the matrix
  // (slanted when they do not fit a cell), then the axis title.
  const side = cell * size;
  const top = MATRIX_TOP;
  const columnLabelHeight = rotateColumns ? longest * Math.sin(Math.PI / 4.5) + 24 : 30;
  const matrixWidth = MARGIN + 34 + longest + 14 + side + 110 + MARGIN;
  const width = Math.ceil(Math.max(matrixWidth, estimateTextWidth(caption, 15) + 2 * MARGIN));
  const left = (width - matrixWidth) / 2 + MARGIN + 34 + longest + 14;
  const bottom = top + side;
  const height = Math.ceil(bottom + columnLabelHeight + 60);

  const body: string[] = [
    text(width / 2, TITLE_Y, title, { size: 24, anchor: 'middle', weight: 'bold' }),
    text(width / 2, SUBTITLE_Y, caption, { size: 15, anchor: 'middle', fill: COLORS.muted }),
    text(left + side / 2, bottom + columnLabelHeight + 26, 'Predicted class', {
      size: 16,
      anchor: 'middle',
      weight: 'bold',
    }),
    text(left - longest - 34, top + side / 2, 'True class', {
      size: 16,
      anchor: 'middle',
      weight: 'bold',
      rotate: -90,
    }),
    text(left + side + 56, top - 14, 'recall', { size: 14, anchor: 'middle', fill: COLORS.muted }),
  ];

  for (const [column, name] of classNames.entries()) {
    const x = left + column * cell + cell / 2;
    if (rotateColumns) {
      body.push(text(x, bottom + 18, name, { size: labelSize, anchor: 'end', rotate: -40 }));
    } else {
      body.push(text(x, bottom + 24, name, { size: labelSize, anchor: 'middle' }));
    }
  }

  for (const [row, counts] of matrix.entries()) {
    const y = top + row * cell;
    const rowTotal = rowTotals[row] ?? 0;
    body.push(
      text(left - 12, y + cell / 2, classNames[row] ?? '', {
        size: labelSize,
        anchor: 'end',
        baseline: 'middle',
      }),
    );

    for (const [column, count] of counts.entries()) {
      body.push(...cellElements(left + column * cell, y, cell, count, rowTotal));
    }

    const recall = rowTotal === 0 ? '–' : percent((counts[row] ?? 0) / rowTotal);
    body.push(
      text(left + side + 56, y + cell / 2, recall, {
        size: 15,
        anchor: 'middle',
        baseline: 'middle',
        fill: COLORS.ink,
      }),
    );
  }

  body.push(
    `<rect x="${left}" y="${top}" width="${side}" height="${side}" fill="none" ` +
      `stroke="${COLORS.axis}" stroke-width="1"/>`,
  );

  await writeSvgAsPng(svgDocument(width, height, body), file);
}

function checkMatrix(matrix: number[][], classNames: string[]): void {
  const size = classNames.length;
  if (size === 0) {
    throw reportInputError('confusion matrix: no class names; pass one name per class');
  }

  if (matrix.length !== size || matrix.some((row) => row.length !== size)) {
    const shape = matrix.map((row) => row.length).join(', ');
    throw reportInputError(
      `confusion matrix: expected ${size}x${size} counts for ${size} class names; ` +
        `received ${matrix.length} rows of lengths [${shape}]`,
    );
  }

  for (const [row, counts] of matrix.entries()) {
    for (const [column, count] of counts.entries()) {
      if (!(Number.isInteger(count) && count >= 0)) {
        throw reportInputError(
          `confusion matrix: count at row ${row}, column ${column} must be a whole number, ` +
            `0 or more; received ${count}`,
        );
      }
    }
  }
}

function subtitle(correct: number, total: number): string {
  const accuracy =
    total === 0
      ? 'no images'
      : `accuracy ${percent(correct / total, 1)} (${correct} of ${total} images)`;
  // En spaces: SVG collapses runs of plain spaces.
  return `${accuracy}\u2002·\u2002shade = share of the true class`;
}

/** One heat-map cell: shaded square, count, and share of its row. */
function cellElements(
  x: number,
  y: number,
  cell: number,
  count: number,
  rowTotal: number,
): string[] {
  const share = rowTotal === 0 ? 0 : count / rowTotal;
  const ink = share > 0.45 ? '#ffffff' : COLORS.ink;
  const countSize = cell >= 80 ? 24 : 16;
  const shareSize = cell >= 80 ? 13 : 11;

  return [
    `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(share)}" ` +
      `stroke="#ffffff" stroke-width="1.5"/>`,
    text(x + cell / 2, y + cell / 2 - shareSize * 0.45, String(count), {
      size: countSize,
      anchor: 'middle',
      baseline: 'middle',
      weight: 'bold',
      fill: ink,
    }),
    text(x + cell / 2, y + cell / 2 + countSize * 0.75, rowTotal === 0 ? '–' : percent(share), {
      size: shareSize,
      anchor: 'middle',
      baseline: 'middle',
      fill: ink,
    }),
  ];
}

/** Sequential blues from near-white (0) to deep blue (1): ColorBrewer's 9-class Blues. */
const BLUES: Array<[number, number, number]> = [
  [247, 251, 255],
  [222, 235, 247],
  [198, 219, 239],
  [158, 202, 225],
  [107, 174, 214],
  [66, 146, 198],
  [33, 113, 181],
  [8, 81, 156],
  [8, 48, 107],
];

function shade(share: number): string {
  const position = Math.min(1, Math.max(0, share)) * (BLUES.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(BLUES.length - 1, lower + 1);
  const mix = position - lower;
  const from = BLUES[lower] ?? [255, 255, 255];
  const to = BLUES[upper] ?? from;
  const channel = (index: 0 | 1 | 2) => Math.round(from[index] + (to[index] - from[index]) * mix);
  return `rgb(${channel(0)},${channel(1)},${channel(2)})`;
}

function percent(value: number, digits = 0): string {
  return `${(value * 100).toFixed(digits)}%`;
}
