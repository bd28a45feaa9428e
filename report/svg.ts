/**
 * The small SVG toolkit behind the report images: escaping, nice axis ticks, a shared style,
 * and the SVG -> PNG step through sharp (librsvg draws the text with fontconfig's fonts).
 *
 * Hand-built SVG keeps the three fixed figures free of a charting dependency; each figure file
 * lays out its own elements with these helpers.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import sharp from 'sharp';

import { SweepError } from '../lib/errors.js';

/**
 * Font stack for every label. DejaVu Sans ships with most Linux images (Debian package
 * `fonts-dejavu-core`); librsvg falls back to fontconfig's `sans-serif` without it.
 */
export const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";

/** Colours shared by the figures: ink for text, muted for axes, a pair for train/validation. */
export const COLORS = {
  ink: '#1f2328',
  muted: '#57606a',
  axis: '#8c959f',
  grid: '#e6e8eb',
  background: '#ffffff',
  train: '#1f77b4',
  validation: '#ff7f0e',
  best: '#2ca02c',
  wrong: '#d1242f',
  right: '#1a7f37',
} as const;

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** Attributes of a `<text>` element besides position. */
export interface TextStyle {
  size: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** Degrees, about the text's own position. */
  rotate?: number;
  /** Vertical alignment of the baseline; `middle` centres the text on `y`. */
  baseline?: 'auto' | 'middle' | 'hanging';
}

/** One `<text>` element, escaped. */
export function text(x: number, y: number, content: string, style: TextStyle): string {
  const attributes = [
    `x="${round(x)}"`,
    `y="${round(y)}"`,
    `font-family="${FONT_FAMILY}"`,
    `font-size="${style.size}"`,
    `fill="${style.fill ?? COLORS.ink}"`,
    `text-anchor="${style.anchor ?? 'start'}"`,
  ];

  if (style.weight === 'bold') {
    attributes.push('font-weight="bold"');
  }

  if (style.baseline !== undefined && style.baseline !== 'auto') {
    // librsvg honours dominant-baseline; `central` centres digits and capitals well.
    const value = style.baseline === 'middle' ? 'central' : 'hanging';
    attributes.push(`dominant-baseline="${value}"`);
  }

  if (style.rotate !== undefined) {
    attributes.push(`transform="rotate(${style.rotate} ${round(x)} ${round(y)})"`);
  }

  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

/**
 * Rough width of `content` in DejaVu Sans at `size` px, for laying out legends. Average glyph
 * advance is about 0.6 em; it errs wide so boxes never clip.
 */
export function estimateTextWidth(content: string, size: number): number {
  return content.length * size * 0.6;
}

/** Rounds a coordinate to 0.01 px so the SVG stays short and deterministic. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * About `count` evenly spaced round tick values covering [min, max] (steps of 1, 2 or 5 times
 * a power of ten), with the domain widened to the outer ticks.
 *
 * A flat range (min equal to max) is widened by 1 (or 10 % of the value) each way first.
 */
export function niceTicks(min: number, max: number, count: number): number[] {
  let low = min;
  let high = max;
  if (low === high) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
  }

  const rawStep = (high - low) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const multiple = [1, 2, 5, 10].find((m) => m * magnitude >= rawStep) ?? 10;
  const step = multiple * magnitude;

  const first = Math.floor(low / step + 1e-9) * step;
  const last = Math.ceil(high / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let value = first; value <= last + step / 2; value += step) {
    // Snap away binary noise such as 0.30000000000000004.
    ticks.push(Number(value.toPrecision(12)));
  }

  return ticks;
}

/** Formats an axis tick: no trailing zeros, at most 4 significant digits. */
export function formatTick(value: number): string {
  if (value === 0) {
    return '0';
  }

  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-3) {
    return value.toExponential(1).replace('e+', 'e');
  }

  return String(Number(value.toPrecision(4)));
}

/** Formats a learning rate compactly: `0.001`, `2e-5`. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) {
    return String(value);
  }

  if (value >= 1e-3) {
    return String(Number(value.toPrecision(3)));
  }

  const [mantissa = '', exponent = ''] = value.toExponential(2).split('e');
  return `${Number(mantissa)}e${exponent}`;
}

/** Wraps body elements in an `<svg>` root with a white background. */
/** One entry of a legend: a swatch drawn at (x, y) and its label. */
export interface LegendItem {
  label: string;
  draw: (x: number, y: number) => string;
}

/** A one-row legend centred on `centreX`, swatches 34 px wide, 36 px between entries. */
export function centredLegend(items: LegendItem[], centreX: number, y: number): string[] {
  const size = 15;
  const gap = 36;
  const widths = items.map((item) => 34 + estimateTextWidth(item.label, size));
  const total = widths.reduce((sum, itemWidth) => sum + itemWidth, 0) + gap * (items.length - 1);
  let x = centreX - total / 2;

  return items.flatMap((item, index) => {
    const elements = [item.draw(x, y), text(x + 34, y, item.label, { size, baseline: 'middle' })];
    x += (widths[index] ?? 0) + gap;
    return elements;
  });
}

export function svgDocument(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="${COLORS.background}"/>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/**
 * Rasterises an SVG document to a PNG file at its own pixel size, creating the folder.
 *
 * @throws SweepError `REPORT_WRITE_FAILED` (not retryable) naming the file, with the sharp or
 *   file-system error as cause.
 */
export async function writeSvgAsPng(svg: string, file: string): Promise<void> {
  await writePng(file, () => sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toFile(file));
}

/**
 * Runs a PNG-writing step with the folder created and failures translated.
 *
 * @throws SweepError `REPORT_WRITE_FAILED` naming the file.
 */
export async function writePng(file: string, write: () => Promise<unknown>): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
    await write();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SweepError(`cannot write report image ${file}: ${reason}`, {
      code: 'REPORT_WRITE_FAILED',
      hint: 'Check that the folder is writable and the disk has space.',
      cause,
    });
  }
}

/**
 * A report input that cannot be drawn (empty history, mismatched lengths, wrong pixel count).
 * Not retryable: the same input fails the same way.
 */
export function reportInputError(message: string): SweepError {
  return new SweepError(message, { code: 'REPORT_INPUT_INVALID' });
}
