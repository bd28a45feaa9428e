/**
 * The sweep figure: best validation accuracy of every trial against the value it took on each
 * grid axis, one panel per axis, so a researcher sees which values helped. Uploaded to the
 * sweep's parent run in MLflow.
 */
import {
  centredLegend,
  COLORS,
  estimateTextWidth,
  formatTick,
  type LegendItem,
  niceTicks,
  reportInputError,
  round,
  svgDocument,
  text,
  writeSvgAsPng,
} from './svg.js';

/** One trial's point in every panel. */
export interface AxisPlotTrial {
  /** Grid value of each axis, keyed by axis path. */
  values: Record<string, unknown>;
  /** Best validation accuracy in [0, 1]; trials with a non-finite value are left out. */
  valAccuracy: number;
  /** Ringed in green in every panel (the sweep's best trial). */
  best?: boolean;
}

/** Optional touches to the figure. */
export interface AxisPlotOptions {
  /** Figure title; default `Best validation accuracy by grid value`. */
  title?: string;
}

const PANEL_WIDTH = 440;
const PANEL_HEIGHT = 360;
const HEADER_HEIGHT = 120;
const MARGIN = 20;
const MAX_COLUMNS = 3;
const MAX_LABEL_CHARS = 22;

/** Figure size in pixels for `axisCount` axes, for callers and tests. */
export function axisPlotSize(axisCount: number): { width: number; height: number } {
  const columns = Math.min(MAX_COLUMNS, Math.max(1, axisCount));
  const rows = Math.ceil(Math.max(1, axisCount) / columns);
  return {
    width: columns * PANEL_WIDTH + 2 * MARGIN,
    height: HEADER_HEIGHT + rows * PANEL_HEIGHT + MARGIN,
  };
}

/**
 * Writes the PNG: one panel per axis (three per row), the axis's values along the bottom in
 * the order they first appear in `trials` (plan order, so grid order), each trial a blue dot
 * at its best validation accuracy, an orange bar at each value's mean, and the best trial
 * ringed in green. All panels share one accuracy scale (kept inside [0, 1]) so they compare.
 * Dots of trials that share a value are spread sideways so they do not hide each other.
 *
 * A title too wide for the figure is set smaller (down to 14 px), then cut with an ellipsis.
 *
 * @param axes grid axes in spec order; values are shown as written (strings as they are,
 *   anything else as JSON), cut to 22 characters.
 * @throws SweepError `REPORT_INPUT_INVALID` when `axes` is empty or no trial has a finite
 *   accuracy; `REPORT_WRITE_FAILED` when the file cannot be written.
 */
export async function writeAxisPlot(
  trials: readonly AxisPlotTrial[],
  axes: readonly string[],
  file: string,
  options: AxisPlotOptions = {},
): Promise<void> {
  if (axes.length === 0) {
    throw reportInputError('axis plot: the sweep has no grid axes, so there is nothing to plot');
  }
  const points = trials.filter((trial) => Number.isFinite(trial.valAccuracy));
  if (points.length === 0) {
    throw reportInputError(
      `axis plot: none of the ${trials.length} trial(s) has a finite validation accuracy`,
    );
  }

  const { width, height } = axisPlotSize(axes.length);
  const yTicks = accuracyTicks(points.map((point) => point.valAccuracy));
  const title = fitText(options.title ?? 'Best validation accuracy by grid value', width, 24);
  const body = [
    text(width / 2, 38, title.text, { size: title.size, anchor: 'middle', weight: 'bold' }),
    text(width / 2, 66, subtitle(trials.length, points), {
      size: 15,
      anchor: 'middle',
      fill: COLORS.muted,
    }),
    ...legend(width, points.some((point) => point.best === true)),
  ];

  axes.forEach((axis, index) => {
    const column = index % MAX_COLUMNS;
    const row = Math.floor(index / MAX_COLUMNS);
    const left = MARGIN + column * PANEL_WIDTH;
    const top = HEADER_HEIGHT + row * PANEL_HEIGHT;
    body.push(...panel(axis, points, yTicks, left, top));
  });

  await writeSvgAsPng(svgDocument(width, height, body), file);
}

/**
 * The font size (down to 14 px from `size`) at which `content` fits `width` less the
 * margins, and the text, cut with an ellipsis when it does not fit even then.
 */
function fitText(content: string, width: number, size: number): { text: string; size: number } {
  const room = width - 2 * MARGIN;
  // Bold glyphs run about 10 % wider than the estimate's regular ones.
  const needed = (fontSize: number) => estimateTextWidth(content, fontSize) * 1.1;
  const fitting = Math.floor((size * room) / needed(size));
  if (fitting >= size) return { text: content, size };
  if (fitting >= 14) return { text: content, size: fitting };

  const characters = Math.floor(room / (14 * 0.6 * 1.1));
  return { text: `${content.slice(0, characters - 1)}…`, size: 14 };
}

function subtitle(total: number, points: readonly AxisPlotTrial[]): string {
  const best = Math.max(...points.map((point) => point.valAccuracy));
  const plotted =
    points.length === total ? `${total} trials` : `${points.length} of ${total} trials`;
  // En spaces: SVG collapses runs of plain spaces.
  return `${plotted}\u2002·\u2002highest validation accuracy ${(best * 100).toFixed(2)}%`;
}

function legend(width: number, withBest: boolean): string[] {
  const items: LegendItem[] = [
    { label: 'trial', draw: (x, y) => dot(x + 13, y, COLORS.train) },
    { label: 'mean of a value', draw: (x, y) => bar(x + 13, y, 26, COLORS.validation) },
  ];
  if (withBest) {
    items.push({ label: 'best trial', draw: (x, y) => ring(x + 13, y) });
  }

  return centredLegend(items, width / 2, 98);
}

/** One axis's panel: frame, accuracy grid, value labels, dots, means and the best ring. */
function panel(
  axis: string,
  points: readonly AxisPlotTrial[],
  yTicks: number[],
  panelLeft: number,
  panelTop: number,
): string[] {
  const box = {
    left: panelLeft + 78,
    right: panelLeft + PANEL_WIDTH - 24,
    top: panelTop + 46,
    bottom: panelTop + PANEL_HEIGHT - 96,
  };
  const yMin = yTicks[0] ?? 0;
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const yOf = (value: number) =>
    box.bottom - ((value - yMin) / (yMax - yMin)) * (box.bottom - box.top);

  const categories = categoriesOf(axis, points);
  const band = (box.right - box.left) / categories.length;
  const xOf = (index: number) => box.left + (index + 0.5) * band;

  const elements = [text(panelLeft + 20, panelTop + 24, axis, { size: 17, weight: 'bold' })];
  elements.push(...yAxis(box, yTicks, yOf));
  elements.push(...categoryLabels(categories, box.bottom, xOf, band));

  categories.forEach((category, index) => {
    const members = points.filter((point) => valueLabel(point.values[axis]) === category);
    elements.push(...categoryMarks(members, xOf(index), band, yOf));
  });
  return elements;
}

function yAxis(
  box: { left: number; right: number; top: number; bottom: number },
  ticks: number[],
  yOf: (value: number) => number,
): string[] {
  const elements: string[] = [];
  for (const tick of ticks) {
    const y = round(yOf(tick));
    elements.push(
      `<line x1="${box.left}" y1="${y}" x2="${box.right}" y2="${y}" stroke="${COLORS.grid}"/>`,
      text(box.left - 10, y, formatTick(tick), {
        size: 13,
        anchor: 'end',
        baseline: 'middle',
        fill: COLORS.muted,
      }),
    );
  }

  elements.push(
    `<line x1="${box.left}" y1="${box.bottom}" x2="${box.right}" y2="${box.bottom}" ` +
      `stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    `<line x1="${box.left}" y1="${box.top}" x2="${box.left}" y2="${box.bottom}" ` +
      `stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    text(box.left - 56, (box.top + box.bottom) / 2, 'best val accuracy', {
      size: 14,
      anchor: 'middle',
      rotate: -90,
    }),
  );
  return elements;
}

/** Value labels under the axis; slanted when they would not fit side by side. */
function categoryLabels(
  categories: string[],
  bottom: number,
  xOf: (index: number) => number,
  band: number,
): string[] {
  const labels = categories.map(shorten);
  const widest = Math.max(...labels.map((label) => estimateTextWidth(label, 13)));
  const slanted = widest > band - 6;

  return labels.flatMap((label, index) => {
    const x = round(xOf(index));
    const tick =
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 6}" stroke="${COLORS.axis}"/>`;
    const style = slanted
      ? { size: 13, anchor: 'end' as const, rotate: -35, fill: COLORS.ink }
      : { size: 13, anchor: 'middle' as const, fill: COLORS.ink };
    return [tick, text(x, bottom + (slanted ? 18 : 24), label, style)];
  });
}

/** The dots of the trials that took one value, their mean bar and the best ring. */
function categoryMarks(
  members: readonly AxisPlotTrial[],
  center: number,
  band: number,
  yOf: (value: number) => number,
): string[] {
  const spread = Math.min(12, (band * 0.6) / Math.max(1, members.length));
  const elements: string[] = [];

  const mean = members.reduce((sum, point) => sum + point.valAccuracy, 0) / members.length;
  elements.push(bar(center, yOf(mean), Math.min(60, band * 0.7), COLORS.validation));

  members.forEach((point, index) => {
    const x = center + (index - (members.length - 1) / 2) * spread;
    elements.push(dot(x, yOf(point.valAccuracy), COLORS.train));
    if (point.best === true) {
      elements.push(ring(x, yOf(point.valAccuracy)));
    }
  });
  return elements;
}

function categoriesOf(axis: string, points: readonly AxisPlotTrial[]): string[] {
  const seen: string[] = [];
  for (const point of points) {
    const label = valueLabel(point.values[axis]);
    if (!seen.includes(label)) {
      seen.push(label);
    }
  }
  return seen;
}

/** Accuracy ticks around the values, kept inside [0, 1]. */
function accuracyTicks(values: number[]): number[] {
  const low = Math.min(...values);
  const high = Math.max(...values);
  const air = Math.max((high - low) * 0.08, 0.02);
  const ticks = niceTicks(Math.max(0, low - air), Math.min(1, high + air), 5);
  const inside = ticks.filter((tick) => tick >= 0 && tick <= 1);
  return inside.length >= 2 ? inside : [0, 0.5, 1];
}

function valueLabel(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

function shorten(label: string): string {
  return label.length <= MAX_LABEL_CHARS ? label : `${label.slice(0, MAX_LABEL_CHARS - 1)}…`;
}

function dot(x: number, y: number, color: string): string {
  return (
    `<circle cx="${round(x)}" cy="${round(y)}" r="5" fill="${color}" fill-opacity="0.8" ` +
    `stroke="#ffffff" stroke-width="1"/>`
  );
}

function ring(x: number, y: number): string {
  return (
    `<circle cx="${round(x)}" cy="${round(y)}" r="9" fill="none" stroke="${COLORS.best}" ` +
    `stroke-width="2.5"/>`
  );
}

function bar(x: number, y: number, width: number, color: string): string {
  const half = width / 2;
  return (
    `<line x1="${round(x - half)}" y1="${round(y)}" x2="${round(x + half)}" y2="${round(y)}" ` +
    `stroke="${color}" stroke-width="3" stroke-linecap="round"/>`
  );
}
