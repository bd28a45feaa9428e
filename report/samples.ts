/**
 * The sample grid: six dataset images, enlarged so a person can see them, captioned with the
 * true class and, when given, the prediction and its probability (wrong ones in red).
 */
import sharp from 'sharp';

import {
  COLORS,
  estimateTextWidth,
  reportInputError,
  text,
  writePng,
} from './svg.js';

/** One image of the grid. */
export interface Sample {
  /** RGB pixels, row by row, `height * width * 3` bytes. */
  image: Uint8Array;
  /** Pixels. */
  height: number;
  /** Pixels. */
  width: number;
  trueLabel: string;
  /** Omit for a plain dataset preview. */
  predictedLabel?: string | undefined;
  /** Probability of `predictedLabel`, in [0, 1]; shown with two decimals. */
  probability?: number | undefined;
}

/** Most images in one grid: two rows of three. */
export const SAMPLE_GRID_CAPACITY = 6;

const COLUMNS = 3;
const ROWS = 2;
const BOX = 256;
const GAP = 32;
const MARGIN = 32;
const HEADER = 84;
const CAPTION = 62;
const FRAME = 4;

/** Grid size in pixels (always the full 2x3 layout), for callers and tests. */
export const SAMPLE_GRID_SIZE = {
  width: MARGIN * 2 + COLUMNS * BOX + (COLUMNS - 1) * GAP,
  height: HEADER + ROWS * (BOX + CAPTION) + (ROWS - 1) * GAP + MARGIN / 2,
} as const;

/**
 * Writes up to six images as a 2x3 grid PNG (896x768). Each image is scaled to fit a 256 px
 * square with nearest-neighbour sampling (a 128 px image doubles exactly, pixels stay sharp;
 * other aspect ratios get white bars). Captions read `true: rose` and, when a prediction is
 * given, `pred: tulip 0.83`: green when right, red with a red frame when wrong. Fewer than six
 * samples leave the remaining cells empty.
 *
 * @param samples 1 to 6 images, in grid order (left to right, top to bottom).
 * @param file PNG path; its folder is created.
 * @param title default `Samples`.
 * @throws SweepError `REPORT_INPUT_INVALID` for no or more than six samples, or an image
 *   whose byte length is not `height * width * 3`; `REPORT_WRITE_FAILED` when the file cannot
 *   be written.
 */
export async function writeSampleGrid(
  samples: readonly Sample[],
  file: string,
  title = 'Samples',
): Promise<void> {
  checkSamples(samples);

  const tiles = await Promise.all(
    samples.map(async (sample, index) => ({
      input: await enlarge(sample),
      left: cellLeft(index),
      top: cellTop(index),
    })),
  );
  const overlay = Buffer.from(overlaySvg(samples, title));

  await writePng(file, () =>
    sharp({
      create: {
        width: SAMPLE_GRID_SIZE.width,
        height: SAMPLE_GRID_SIZE.height,
        channels: 3,
        background: COLORS.background,
      },
    })
      .composite([...tiles, { input: overlay, left: 0, top: 0 }])
      .png({ compressionLevel: 9 })
      .toFile(file),
  );
}

function checkSamples(samples: readonly Sample[]): void {
  if (samples.length === 0 || samples.length > SAMPLE_GRID_CAPACITY) {
    throw reportInputError(
      `sample grid: needs 1 to ${SAMPLE_GRID_CAPACITY} samples; received ${samples.length}`,
    );
  }

  for (const [index, sample] of samples.entries()) {
    const { height, width } = sample;
    const sizeOk = Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0;
    if (!sizeOk || sample.image.length !== height * width * 3) {
      throw reportInputError(
        `sample grid: sample ${index} has ${sample.image.length} bytes for ${height}x${width} ` +
          `RGB; expected ${sizeOk ? height * width * 3 : 'a positive whole height and width'}`,
      );
    }
  }
}

function cellLeft(index: number): number {
  return MARGIN + (index % COLUMNS) * (BOX + GAP);
}

function cellTop(index: number): number {
  return HEADER + Math.floor(index / COLUMNS) * (BOX + CAPTION + GAP);
}

/** Nearest-neighbour enlargement to the cell's square, letterboxed in white. */
async function enlarge(sample: Sample): Promise<Buffer> {
  const raw = { width: sample.width, height: sample.height, channels: 3 as const };
  return sharp(sample.image, { raw })
    .resize(BOX, BOX, { kernel: 'nearest', fit: 'contain', background: COLORS.background })
    .png()
    .toBuffer();
}

/** Title, frames and captions, drawn over the images. */
function overlaySvg(samples: readonly Sample[], title: string): string {
  const { width, height } = SAMPLE_GRID_SIZE;
  const elements = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">`,
    text(width / 2, 48, fit(title, 24, width - 2 * MARGIN), {
      size: 24,
      anchor: 'middle',
      weight: 'bold',
    }),
  ];

  for (const [index, sample] of samples.entries()) {
    elements.push(...captionElements(sample, cellLeft(index), cellTop(index)));
  }

  elements.push('</svg>');
  return elements.join('\n');
}

function captionElements(sample: Sample, left: number, top: number): string[] {
  const predicted = sample.predictedLabel;
  const wrong = predicted !== undefined && predicted !== sample.trueLabel;
  const frame = wrong
    ? `<rect x="${left - FRAME / 2}" y="${top - FRAME / 2}" width="${BOX + FRAME}" ` +
      `height="${BOX + FRAME}" fill="none" stroke="${COLORS.wrong}" stroke-width="${FRAME}"/>`
    : `<rect x="${left - 0.5}" y="${top - 0.5}" width="${BOX + 1}" height="${BOX + 1}" ` +
      `fill="none" stroke="${COLORS.grid}" stroke-width="1"/>`;

  const centre = left + BOX / 2;
  const elements = [
    frame,
    text(centre, top + BOX + 24, fit(`true: ${sample.trueLabel}`, 16, BOX), {
      size: 16,
      anchor: 'middle',
    }),
  ];

  if (predicted !== undefined) {
    const probability =
      sample.probability === undefined || !Number.isFinite(sample.probability)
        ? ''
        : ` ${sample.probability.toFixed(2)}`;
    elements.push(
      text(centre, top + BOX + 47, fit(`pred: ${predicted}${probability}`, 16, BOX), {
        size: 16,
        anchor: 'middle',
        weight: 'bold',
        fill: wrong ? COLORS.wrong : COLORS.right,
      }),
    );
  }

  return elements;
}

/** Shortens `content` with an ellipsis until its estimated width fits. */
function fit(content: string, size: number, maxWidth: number): string {
  if (estimateTextWidth(content, size) <= maxWidth) {
    return content;
  }

  const characters = Math.max(1, Math.floor(maxWidth / (size * 0.6)) - 1);
  return `${content.slice(0, characters)}…`;
}
