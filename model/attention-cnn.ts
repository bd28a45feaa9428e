/**
 * The tutorial's attention CNN: three conv blocks (conv 3x3 relu, max-pool 2, dropout), a 1x1
 * sigmoid "attention" map multiplied onto the features after a chosen block, then
 * flatten, dense relu, dropout and a softmax classifier.
 *
 * With 128x128x3 inputs, 5 classes and attention after block 1 (the tutorial) it has
 * 3,305,318 parameters.
 */
import type { LayersModel, Shape } from '@tensorflow/tfjs-node';

import type { AttentionPlacement, ModelConfig } from '../spec/schema.js';
import { ConfigError } from '../lib/errors.js';
import { tf } from '../lib/tf.js';

type SymbolicTensor = ReturnType<typeof tf.input>;

/** What the builder needs beyond the model section of the spec. */
export interface ModelShape {
  /** Input height and width in pixels. */
  height: number;
  width: number;
  classCount: number;
  /** Seed for weight initialisation. */
  seed: number;
}

const BLOCK_FILTERS = [32, 64, 128] as const;
const BLOCK_DROPOUT_KEYS = ['block1', 'block2', 'block3'] as const;

/** Whether the attention map follows block `block` (1-based) for a placement. */
export function hasAttentionAfter(placement: AttentionPlacement, block: number): boolean {
  return placement === 'all' || placement === `block${block}`;
}

/**
 * Builds the model (not compiled: the trainer owns the optimizer and loss). Initial weights
 * are reproducible from `shape.seed`; dropout masks are not.
 *
 * @throws ConfigError when the input is too small to survive three conv+pool blocks.
 */
export function buildAttentionCnn(config: ModelConfig, shape: ModelShape): LayersModel {
  checkInputSize(shape);

  // Weight initialisers get one seed per layer, derived from the trial's. Dropout gets none:
  // tfjs draws the same mask on every call when a dropout layer has a seed.
  let layerSeed = shape.seed * 1000;
  const nextSeed = (): number => ++layerSeed;

  const input = tf.input({ shape: [shape.height, shape.width, 3], name: 'image' });
  let features: SymbolicTensor = input;

  for (const [index, filters] of BLOCK_FILTERS.entries()) {
    const block = index + 1;
    const dropoutRate = config.dropout[BLOCK_DROPOUT_KEYS[index]!];
    features = convBlock(features, block, filters, dropoutRate, nextSeed);
    if (hasAttentionAfter(config.attention, block)) {
      features = attention(features, block, nextSeed);
    }
  }

  const flat = tf.layers.flatten({ name: 'flatten' }).apply(features) as SymbolicTensor;
  const hidden = tf.layers
    .dense({
      units: config.denseUnits,
      activation: 'relu',
      name: 'dense',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    })
    .apply(flat) as SymbolicTensor;
  const dropped = tf.layers
    .dropout({ rate: config.dropout.dense, name: 'dense_dropout' })
    .apply(hidden) as SymbolicTensor;
  const output = tf.layers
    .dense({
      units: shape.classCount,
      activation: 'softmax',
      name: 'classifier',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    })
    .apply(dropped) as SymbolicTensor;

  return tf.model({ inputs: input, outputs: output, name: 'attention_cnn' });
}

function convBlock(
  input: SymbolicTensor,
  block: number,
  filters: number,
  dropoutRate: number,
  nextSeed: () => number,
): SymbolicTensor {
  const conv = tf.layers
    .conv2d({
      filters,
      kernelSize: 3,
      activation: 'relu',
      name: `block${block}_conv`,
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    })
    .apply(input) as SymbolicTensor;
  const pooled = tf.layers
    .maxPooling2d({ poolSize: 2, name: `block${block}_pool` })
    .apply(conv) as SymbolicTensor;

  return tf.layers
    .dropout({ rate: dropoutRate, name: `block${block}_dropout` })
    .apply(pooled) as SymbolicTensor;
}

/** A 1x1 conv with one sigmoid channel, broadcast-multiplied onto every feature channel. */
function attention(
  features: SymbolicTensor,
  block: number,
  nextSeed: () => number,
): SymbolicTensor {
  const map = tf.layers
    .conv2d({
      filters: 1,
      kernelSize: 1,
      activation: 'sigmoid',
      name: `block${block}_attention`,
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    })
    .apply(features) as SymbolicTensor;

  return tf.layers
    .multiply({ name: `block${block}_attention_apply` })
    .apply([features, map]) as SymbolicTensor;
}

function checkInputSize(shape: ModelShape): void {
  // Each block loses 2 pixels to the valid 3x3 conv, then halves: side -> floor((side - 2) / 2).
  let side = Math.min(shape.height, shape.width);
  for (let block = 0; block < BLOCK_FILTERS.length; block++) side = Math.floor((side - 2) / 2);

  if (side < 1) {
    throw new ConfigError(
      `dataset.imageSize ${shape.height}x${shape.width} is too small for three conv blocks`,
      { hint: 'Use images of at least 22x22 pixels.' },
    );
  }
  if (shape.classCount < 2) {
    throw new ConfigError(`the dataset has ${shape.classCount} class; at least 2 are needed`);
  }
}

/** One row of the model summary. */
export interface SummaryRow {
  layer: string;
  type: string;
  outputShape: string;
  params: number;
}

/** The rows of a Keras-style summary: layer, output shape, parameter count. */
export function summaryRows(model: LayersModel): SummaryRow[] {
  return model.layers.map((layer) => ({
    layer: layer.name,
    type: layer.getClassName(),
    outputShape: formatShape(layer.outputShape),
    params: layer.countParams(),
  }));
}

/** A Keras-style summary table with totals, as printed and saved to `summary.txt`. */
export function formatSummary(model: LayersModel): string {
  const rows = summaryRows(model);
  const header = ['Layer (type)', 'Output shape', 'Params'];
  const cells = rows.map((row) => [
    `${row.layer} (${row.type})`,
    row.outputShape,
    row.params.toLocaleString('en-US'),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((cell) => cell[column]!.length)),
  );
  const line = (cell: string[]): string =>
    [cell[0]!.padEnd(widths[0]!), cell[1]!.padEnd(widths[1]!), cell[2]!.padStart(widths[2]!)].join(
      '  ',
    );
  const rule = '-'.repeat(widths.reduce((sum, width) => sum + width, 4));

  const total = model.countParams();
  const trainable = model.trainableWeights
    .map((weight) => weight.shape.reduce((product: number, size) => product * (size ?? 1), 1))
    .reduce((sum, count) => sum + count, 0);

  return [
    `Model: ${model.name}`,
    rule,
    line(header),
    rule,
    ...cells.map(line),
    rule,
    `Total params: ${total.toLocaleString('en-US')}`,
    `Trainable params: ${trainable.toLocaleString('en-US')}`,
    `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
    '',
  ].join('\n');
}

function formatShape(shape: Shape | Shape[]): string {
  // Layers with several outputs report a list of shapes; ours all have one.
  const dims = (Array.isArray(shape[0]) ? shape[0] : shape) as Shape;
  return `(${dims.map((dim) => (dim === null ? 'None' : dim)).join(', ')})`;
}
