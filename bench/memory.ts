/**
 * `memory`: resident memory and live tensors across many epochs of one trial, and across many
 * trials in one process (as a long-lived worker runs them). Both should stay flat: a leak of
 * one tensor per batch or one model per trial shows here long before a sweep runs out of memory.
 *
 * Runs in this process on a small slice of the flowers (32x32, 8 images per class and split),
 * so it takes a minute or two; the trials are full trials (outputs written, then deleted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TrialConfig } from '../spec/schema.js';

import type { BenchReport } from './common.js';
import { FLOWERS, round, sampleLoad, table } from './common.js';

/** Options of `memory`. */
export interface MemoryOptions {
  /** Epochs of the long trial. Default 20. */
  epochs: number;
  /** Trials run one after another. Default 10. */
  trials: number;
}

/** One measurement. */
interface Sample {
  /** Epoch or trial number, 1-based. */
  at: number;
  rssMb: number;
  heapMb: number;
  numTensors: number;
  numBytesMb: number;
}

const MB = 2 ** 20;

/** Growth in MB from the sample at a quarter of the run to the last one (warm-up excluded). */
function growthMb(samples: Sample[]): number {
  const from = samples[Math.floor(samples.length / 4)]!;
  return round(samples.at(-1)!.rssMb - from.rssMb);
}

/** Runs the benchmark; see the module comment. */
export async function memory(options: MemoryOptions): Promise<BenchReport> {
  const { tf } = await import('../lib/tf.js');
  const { sweepSpecSchema } = await import('../spec/schema.js');
  const { loadDataset } = await import('../data/dataset.js');
  const { trainTrial } = await import('../training/trial.js');

  const sample = (at: number): Sample => {
    const usage = process.memoryUsage();
    const tensors = tf.memory();
    return {
      at,
      rssMb: round(usage.rss / MB),
      heapMb: round(usage.heapUsed / MB),
      numTensors: tensors.numTensors,
      numBytesMb: round(tensors.numBytes / MB),
    };
  };
  const configFor = (epochs: number): TrialConfig => {
    const spec = sweepSpecSchema.parse({
      name: 'bench-memory',
      dataset: { root: FLOWERS, imageSize: 32, maxPerClass: 8 },
      training: { epochs, batchSize: 16 },
      callbacks: { earlyStopping: { enabled: false } },
    });
    const { dataset, augmentation, model, training, callbacks } = spec;
    return { dataset, augmentation, model, training, callbacks };
  };

  const load = sampleLoad();
  const dataset = await loadDataset(configFor(1).dataset);
  const root = await mkdtemp(join(tmpdir(), 'sweep-bench-memory-'));
  const before = sample(0);
  const epochSamples: Sample[] = [];
  const trialSamples: Sample[] = [];

  try {
    process.stderr.write(`memory: one trial of ${options.epochs} epochs...\n`);
    await trainTrial({
      config: configFor(options.epochs),
      runDir: join(root, 'long'),
      dataset,
      onEpoch: ({ epoch }) => {
        epochSamples.push(sample(epoch));
      },
    });

    process.stderr.write(`memory: ${options.trials} trials of 2 epochs...\n`);
    for (let trial = 1; trial <= options.trials; trial += 1) {
      await trainTrial({ config: configFor(2), runDir: join(root, `trial-${trial}`), dataset });
      trialSamples.push(sample(trial));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const loadSummary = load.stop();

  const rows = (samples: Sample[]) =>
    samples.map((entry) => [
      entry.at,
      entry.rssMb,
      entry.heapMb,
      entry.numTensors,
      entry.numBytesMb,
    ]);
  const header = (unit: string) => [unit, 'RSS MB', 'heap MB', 'tensors', 'tensor MB'];
  const tensorsFlat = (samples: Sample[]) =>
    samples.every((entry) => entry.numTensors === samples[0]!.numTensors);
  const epochGrowth = growthMb(epochSamples);
  const trialGrowth = growthMb(trialSamples);

  const text = [
    `32x32, 8 images per class and split, batch 16; load 1-min mean ${loadSummary.mean}, ` +
      `max ${loadSummary.max}`,
    `before training: RSS ${before.rssMb} MB, ${before.numTensors} tensors`,
    '',
    `One trial, ${options.epochs} epochs (after each epoch):`,
    table(header('epoch'), rows(epochSamples)),
    '',
    `${options.trials} trials in one process (after each trial, model disposed):`,
    table(header('trial'), rows(trialSamples)),
    '',
    `tensors flat across epochs: ${tensorsFlat(epochSamples) ? 'yes' : 'NO'}; ` +
      `across trials: ${tensorsFlat(trialSamples) ? 'yes' : 'NO'} ` +
      `(${trialSamples.at(-1)!.numTensors - before.numTensors} more than before training)`,
    `RSS growth after warm-up: ${epochGrowth} MB over epochs, ${trialGrowth} MB over trials`,
  ].join('\n');

  return {
    name: 'memory',
    text,
    figures: {
      options,
      load: loadSummary,
      before,
      epochs: epochSamples,
      trials: trialSamples,
      epochGrowthMb: epochGrowth,
      trialGrowthMb: trialGrowth,
    },
  };
}
