/**
 * The training-curves figure: loss and accuracy per epoch, training against validation, with
 * the best epoch marked. Written as a PNG a researcher opens next to the MLflow run.
 */
import {
  centredLegend,
  COLORS,
  formatRate,
  formatTick,
  type LegendItem,
  niceTicks,
  reportInputError,
  round,
  svgDocument,
  text,
  writeSvgAsPng,
} from './svg.js';

/** Keras's `history.history` for the columns this figure draws; one value per epoch. */
export interface TrainingHistory {
  loss: readonly number[];
  accuracy: readonly number[];
  val_loss: readonly number[];
  val_accuracy: readonly number[];
  learning_rate: readonly number[];
}

/** Optional touches to the figure. */
export interface TrainingCurvesOptions {
  /** Figure title; default `Training curves`. */
  title?: string;
  /**
   * 0-based epoch to mark as best (the trainer's checkpoint epoch). Default: the epoch with
   * the lowest finite `val_loss`; no mark when there is none.
   */
  bestEpoch?: number;
}

const WIDTH = 1280;
const HEIGHT = 600;
const PLOT_TOP = 150;
const PLOT_BOTTOM = 520;
const PANELS = [
  { left: 90, right: 615 },
  { left: 735, right: 1260 },
] as const;

/** Figure size in pixels, for callers and tests. */
export const TRAINING_CURVES_SIZE = { width: WIDTH, height: HEIGHT } as const;

/**
 * Writes the two-panel training-curves PNG (1280x600): loss on the left, accuracy on the right,
 * training in blue and validation in orange, epochs numbered from 1 as Keras prints them. The
 * best epoch gets a dashed green line and ringed validation points; the subtitle gives the
 * epoch count, the best epoch's validation metrics and the first and last learning rates.
 *
 * NaN or infinite values leave a gap in their line (a diverged epoch, a missing validation
 * split) rather than failing.
 *
 * @param history one value per epoch in each column, all of the same length (at least 1).
 * @param file PNG path; its folder is created.
 * @throws SweepError `REPORT_INPUT_INVALID` for an empty history, columns of different
 *   lengths or a `bestEpoch` outside the history; `REPORT_WRITE_FAILED` when the file cannot
 *   be written.
 */
export async function writeTrainingCurves(
  history: TrainingHistory,
  file: string,
  options: TrainingCurvesOptions = {},
): Promise<void> {
  const epochs = checkHistory(history);
  const bestEpoch = options.bestEpoch ?? lowestFinite(history.val_loss);
  if (bestEpoch !== undefined && !(Number.isInteger(bestEpoch) && bestEpoch < epochs)) {
    throw reportInputError(
      `training curves: bestEpoch must be a 0-based epoch below ${epochs}; received ${bestEpoch}`,
    );
  }

  const body = [
    text(WIDTH / 2, 38, options.title ?? 'Training curves', {
      size: 24,
      anchor: 'middle',
      weight: 'bold',
    }),
    text(WIDTH / 2, 66, subtitle(history, epochs, bestEpoch), {
      size: 15,
      anchor: 'middle',
      fill: COLORS.muted,
    }),
    ...legend(bestEpoch !== undefined),
    ...panel({
      box: PANELS[0],
      name: 'Loss',
      train: history.loss,
      validation: history.val_loss,
      epochs,
      bestEpoch,
      isAccuracy: false,
    }),
    ...panel({
      box: PANELS[1],
      name: 'Accuracy',
      train: history.accuracy,
      validation: history.val_accuracy,
      epochs,
      bestEpoch,
      isAccuracy: true,
    }),
  ];

  await writeSvgAsPng(svgDocument(WIDTH, HEIGHT, body), file);
}

function checkHistory(history: TrainingHistory): number {
  const columns = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'learning_rate'] as const;
  const lengths = columns.map((column) => history[column]?.length ?? 0);
  const epochs = lengths[0] ?? 0;

  if (lengths.some((length) => length !== epochs)) {
    const listed = columns.map((column, index) => `${column} ${lengths[index]}`).join(', ');
    throw reportInputError(
      `training curves: every history column needs one value per epoch; lengths are ${listed}`,
    );
  }

  if (epochs === 0) {
    throw reportInputError('training curves: the history is empty; train at least one epoch');
  }

  return epochs;
}

/** Index of the lowest finite value, or undefined when there is none. */
function lowestFinite(values: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const [index, value] of values.entries()) {
    if (Number.isFinite(value) && (best === undefined || value < (values[best] ?? Infinity))) {
      best = index;
    }
  }

  return best;
}

function subtitle(history: TrainingHistory, epochs: number, bestEpoch: number | undefined): string {
  const parts = [epochs === 1 ? '1 epoch' : `${epochs} epochs`];

  if (bestEpoch !== undefined) {
    const valLoss = formatMetric(history.val_loss[bestEpoch]);
    const valAccuracy = formatMetric(history.val_accuracy[bestEpoch]);
    parts.push(`best epoch ${bestEpoch + 1}: val_loss ${valLoss}, val_accuracy ${valAccuracy}`);
  }

  const first = history.learning_rate[0];
  const last = history.learning_rate[epochs - 1];
  if (first !== undefined && last !== undefined) {
    const range = `${formatRate(first)} → ${formatRate(last)}`;
    parts.push(`learning rate ${first === last ? formatRate(first) : range}`);
  }

  // En spaces: SVG collapses runs of plain spaces.
  return parts.join('\u2002·\u2002');
}

function formatMetric(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(4);
}

function legend(withBest: boolean): string[] {
  const items: LegendItem[] = [
    { label: 'training', draw: (x, y) => lineSwatch(x, y, COLORS.train, false) },
    { label: 'validation', draw: (x, y) => lineSwatch(x, y, COLORS.validation, false) },
  ];

  if (withBest) {
    items.push({ label: 'best epoch', draw: (x, y) => lineSwatch(x, y, COLORS.best, true) });
  }

  return centredLegend(items, WIDTH / 2, 100);
}

function lineSwatch(x: number, y: number, color: string, dashed: boolean): string {
  const dash = dashed ? ' stroke-dasharray="6 4"' : '';
  return (
    `<line x1="${x}" y1="${y}" x2="${x + 26}" y2="${y}" stroke="${color}" ` +
    `stroke-width="3"${dash}/>`
  );
}

/** What one panel draws. */
interface PanelInput {
  box: { left: number; right: number };
  name: string;
  train: readonly number[];
  validation: readonly number[];
  epochs: number;
  bestEpoch: number | undefined;
  isAccuracy: boolean;
}

/** One panel: frame, grid, ticks, labels, both series and the best-epoch mark. */
function panel(input: PanelInput): string[] {
  const { box, name, train, validation, epochs, bestEpoch, isAccuracy } = input;
  const yTicks = valueTicks([...train, ...validation], isAccuracy);
  const yMin = yTicks[0] ?? 0;
  const yMax = yTicks[yTicks.length - 1] ?? 1;

  // Epochs are drawn 1-based; a little air at both ends keeps edge markers whole.
  const xMin = epochs === 1 ? 0 : 1;
  const xMax = epochs === 1 ? 2 : epochs;
  const air = (xMax - xMin) * 0.02;
  const xOf = (epoch: number) =>
    box.left + ((epoch - xMin + air) / (xMax - xMin + 2 * air)) * (box.right - box.left);
  const yOf = (value: number) =>
    PLOT_BOTTOM - ((value - yMin) / (yMax - yMin)) * (PLOT_BOTTOM - PLOT_TOP);

  const elements: string[] = [
    text(box.left, PLOT_TOP - 14, name, { size: 18, weight: 'bold' }),
  ];

  for (const tick of yTicks) {
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

  for (const tick of epochTicks(epochs)) {
    const x = round(xOf(tick));
    elements.push(
      `<line x1="${x}" y1="${PLOT_BOTTOM}" x2="${x}" y2="${PLOT_BOTTOM + 6}" ` +
        `stroke="${COLORS.axis}"/>`,
      text(x, PLOT_BOTTOM + 24, String(tick), { size: 13, anchor: 'middle', fill: COLORS.muted }),
    );
  }

  elements.push(
    `<line x1="${box.left}" y1="${PLOT_BOTTOM}" x2="${box.right}" y2="${PLOT_BOTTOM}" ` +
      `stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    `<line x1="${box.left}" y1="${PLOT_TOP}" x2="${box.left}" y2="${PLOT_BOTTOM}" ` +
      `stroke="${COLORS.axis}" stroke-width="1.2"/>`,
    text((box.left + box.right) / 2, PLOT_BOTTOM + 52, 'Epoch', { size: 15, anchor: 'middle' }),
    text(box.left - 62, (PLOT_TOP + PLOT_BOTTOM) / 2, name, {
      size: 15,
      anchor: 'middle',
      rotate: -90,
    }),
  );

  if (bestEpoch !== undefined) {
    const x = round(xOf(bestEpoch + 1));
    elements.push(
      `<line x1="${x}" y1="${PLOT_TOP}" x2="${x}" y2="${PLOT_BOTTOM}" stroke="${COLORS.best}" ` +
        `stroke-width="2" stroke-dasharray="6 4"/>`,
    );
  }

  const markers = epochs <= 40;
  elements.push(...series(train, COLORS.train, xOf, yOf, markers));
  elements.push(...series(validation, COLORS.validation, xOf, yOf, markers));

  const bestValue = bestEpoch === undefined ? undefined : validation[bestEpoch];
  if (bestEpoch !== undefined && bestValue !== undefined && Number.isFinite(bestValue)) {
    const x = round(xOf(bestEpoch + 1));
    const y = round(yOf(bestValue));
    elements.push(
      `<circle cx="${x}" cy="${y}" r="7" fill="none" stroke="${COLORS.best}" stroke-width="2.5"/>`,
    );
  }

  return elements;
}

/** Y ticks covering the finite values; accuracy stays inside [0, 1]. */
function valueTicks(values: readonly number[], isAccuracy: boolean): number[] {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) {
    return isAccuracy ? [0, 0.5, 1] : [0, 1];
  }

  // A little air so extreme points do not sit on the frame.
  const low = Math.min(...finite);
  const high = Math.max(...finite);
  const air = (high - low) * 0.04;
  const ticks = niceTicks(low - air, high + air, 5);
  if (!isAccuracy) {
    return ticks;
  }

  const inside = ticks.filter((tick) => tick >= 0 && tick <= 1);
  return inside.length >= 2 ? inside : [0, 0.5, 1];
}

/** Whole-epoch ticks (1-based) at round steps. */
function epochTicks(epochs: number): number[] {
  if (epochs <= 10) {
    return Array.from({ length: epochs }, (_, index) => index + 1);
  }

  const ticks = niceTicks(0, epochs, 8).filter((tick) => tick >= 1 && tick <= epochs);
  const step = (ticks[1] ?? epochs) - (ticks[0] ?? 0);

  // Epoch 1 is where training starts; show it unless it would crowd the first round tick.
  if ((ticks[0] ?? 0) - 1 >= step / 2) {
    ticks.unshift(1);
  }

  return ticks.filter((tick) => Number.isInteger(tick));
}

/** A line broken at non-finite values, with optional point markers. */
function series(
  values: readonly number[],
  color: string,
  xOf: (epoch: number) => number,
  yOf: (value: number) => number,
  markers: boolean,
): string[] {
  const commands: string[] = [];
  const points: string[] = [];
  let penDown = false;

  for (const [index, value] of values.entries()) {
    if (!Number.isFinite(value)) {
      penDown = false;
      continue;
    }

    const x = round(xOf(index + 1));
    const y = round(yOf(value));
    commands.push(`${penDown ? 'L' : 'M'}${x} ${y}`);
    penDown = true;

    if (markers) {
      points.push(
        `<circle cx="${x}" cy="${y}" r="3.2" fill="${color}" stroke="#ffffff" stroke-width="1"/>`,
      );
    }
  }

  if (commands.length === 0) {
    return [];
  }

  const path =
    `<path d="${commands.join(' ')}" fill="none" stroke="${color}" stroke-width="2.4" ` +
    `stroke-linejoin="round" stroke-linecap="round"/>`;
  return [path, ...points];
}
