/**
 * Shared by the sweep and trial recording tests: a tiny two-trial spec on the flowers data,
 * synthetic epoch reports, a fake run folder, and reads of what MLflow stored.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { loadSpec, type LoadedSpec } from '../../spec/load.js';
import { planTrials, type SweepPlan } from '../../spec/plan.js';
import type { MlflowClient } from '../../tracking/client.js';
import type { EpochMetrics } from '../../tracking/trial-run.js';
import { EPOCH_METRICS } from '../../tracking/tags.js';

/** The shared flowers dataset (read-only). */
export const FLOWERS = path.resolve(import.meta.dirname, '../../../shared/datasets/flowers');

/**
 * Writes `<folder>/<name>.yaml`: two trials (attention none / block1) at 32x32, 2 epochs,
 * 4 images per class and split, and loads and plans it.
 */
export async function tinySweep(
  folder: string,
  name: string,
): Promise<{ loaded: LoadedSpec; plan: SweepPlan }> {
  const file = path.join(folder, `${name}.yaml`);
  const text = [
    `name: ${name}`,
    'description: Two tiny trials for the tracking tests.',
    'dataset:',
    `  root: ${FLOWERS}`,
    '  imageSize: 32',
    '  maxPerClass: 4',
    'training:',
    '  epochs: 2',
    '  batchSize: 8',
    'grid:',
    '  model.attention: [none, block1]',
    '',
  ].join('\n');
  await writeFile(file, text);

  const loaded = await loadSpec(file);
  return { loaded, plan: planTrials(loaded) };
}

/** Deterministic metrics of `epoch`, shifted by `offset` (a second attempt's values). */
export function fakeEpoch(epoch: number, offset = 0): EpochMetrics {
  return {
    epoch,
    logs: {
      loss: 2 - epoch / 10 + offset,
      accuracy: 0.2 + epoch / 20 + offset,
      val_loss: 2.1 - epoch / 10 + offset,
      val_accuracy: 0.15 + epoch / 20 + offset,
      learning_rate: 0.001,
      epoch_seconds: 1.5,
      images_per_second: 40 + epoch,
    },
  };
}

/**
 * A run folder as a trial leaves it, with tiny stand-in files: every output plus a checkpoint
 * folder, and history.json holding `epochs` epochs of {@link fakeEpoch} (plus `offset` from
 * epoch `offsetFrom` on).
 */
export async function fakeRunFolder(
  runDir: string,
  epochs: number,
  offset = 0,
  offsetFrom = Infinity,
): Promise<void> {
  await mkdir(path.join(runDir, 'model'), { recursive: true });
  await mkdir(path.join(runDir, 'checkpoint'), { recursive: true });
  await writeFile(path.join(runDir, 'model', 'model.json'), '{"format":"layers-model"}');
  await writeFile(path.join(runDir, 'model', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
  await writeFile(path.join(runDir, 'checkpoint', 'state.json'), '{}');
  await writeFile(path.join(runDir, 'model-summary.txt'), 'Model: "attention_cnn"\n');
  await writeFile(path.join(runDir, 'metrics.json'), '{"classNames":["a","b"]}');
  for (const png of [
    'training-curves.png',
    'train-samples.png',
    'test-predictions.png',
    'confusion-matrix.png',
  ]) {
    await writeFile(path.join(runDir, png), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  }

  const history: Record<string, number[]> = {};
  for (const key of EPOCH_METRICS) {
    history[key] = Array.from({ length: epochs }, (_, index) => {
      const epoch = index + 1;
      return fakeEpoch(epoch, epoch >= offsetFrom ? offset : 0).logs[key];
    });
  }
  await writeFile(path.join(runDir, 'history.json'), JSON.stringify(history));
}

/** Steps of one metric's stored history, in MLflow's order. */
export async function storedSteps(
  client: MlflowClient,
  runId: string,
  key: string,
): Promise<number[]> {
  return (await client.getMetricHistory(runId, key)).map((point) => point.step);
}

/** A bounded wait. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
