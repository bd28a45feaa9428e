/**
 * One trial end to end: train, evaluate on the test split, and write the run folder
 * (history, best model, summary, curves, sample images, confusion matrix, metrics).
 * This is what `sweep train` runs locally and what a Temporal worker runs per trial.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { LayersModel } from '@tensorflow/tfjs-node';

import type { LoadedDataset, SplitData } from '../data/dataset.js';
import { logger } from '../lib/logger.js';
import { formatSummary } from '../model/attention-cnn.js';
import { confusionMatrix, writeConfusionMatrix } from '../report/confusion-matrix.js';
import { writeTrainingCurves } from '../report/curves.js';
import { writeSampleGrid, type Sample } from '../report/samples.js';
import { RUN_FILES } from './run-files.js';
import {
  evaluateSplit,
  trainModel,
  type EpochRecord,
  type Evaluation,
  type TrainTrialInput,
} from './trainer.js';

/** The small summary a trial returns (and a Temporal activity passes on). */
export interface TrialSummary {
  epochsRun: number;
  /** 1-based epoch of the best validation accuracy. */
  bestEpoch: number;
  bestValAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  stoppedEarly: boolean;
  resumedFromEpoch: number;
  parameterCount: number;
  runDir: string;
  durationMs: number;
}

export { RUN_FILES };

const SAMPLE_COUNT = 6;

/**
 * Trains the trial, evaluates the model Keras would leave in memory (the best weights when
 * early stopping restores them) on the test split, and writes every output file.
 *
 * @throws whatever `trainModel` throws (ConfigError, DatasetError, DivergedError, abort).
 */
export async function trainTrial(input: TrainTrialInput): Promise<TrialSummary> {
  const result = await trainModel(input);
  const { model, dataset } = result;

  try {
    const { rescale } = input.config.augmentation;
    const test = evaluateSplit(model, dataset.test, rescale, input.config.training.batchSize);
    const summary: TrialSummary = {
      epochsRun: result.epochsRun,
      bestEpoch: result.bestEpoch,
      bestValAccuracy: result.bestValAccuracy,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      stoppedEarly: result.stoppedEarly,
      resumedFromEpoch: result.resumedFromEpoch,
      parameterCount: model.countParams(),
      runDir: input.runDir,
      durationMs: result.durationMs,
    };

    await writeRunFolder(input.runDir, model, dataset, result.history, test, summary);
    logger.info(
      { runDir: input.runDir, testAccuracy: test.accuracy, durationMs: result.durationMs },
      'trial finished',
    );
    return summary;
  } finally {
    model.dispose();
  }
}

async function writeRunFolder(
  runDir: string,
  model: LayersModel,
  dataset: LoadedDataset,
  history: EpochRecord[],
  test: Evaluation,
  summary: TrialSummary,
): Promise<void> {
  await model.save(`file://${join(runDir, RUN_FILES.model)}`);
  await writeFile(join(runDir, RUN_FILES.summary), formatSummary(model));
  await writeFile(
    join(runDir, RUN_FILES.history),
    JSON.stringify(historyColumns(history), null, 2),
  );
  await writeFile(
    join(runDir, RUN_FILES.metrics),
    JSON.stringify({ ...summary, classNames: dataset.classNames }, null, 2),
  );

  // The curves mark the epoch whose weights were kept (0-based there).
  await writeTrainingCurves(historyColumns(history), join(runDir, RUN_FILES.curves), {
    bestEpoch: summary.bestEpoch > 0 ? summary.bestEpoch - 1 : undefined,
  });
  await writeSampleGrid(
    samples(dataset.train, dataset.classNames),
    join(runDir, RUN_FILES.trainSamples),
    'Training images',
  );
  await writeSampleGrid(
    samples(dataset.test, dataset.classNames, test),
    join(runDir, RUN_FILES.testPredictions),
    `Test predictions (accuracy ${(test.accuracy * 100).toFixed(1)}%)`,
  );

  const matrix = confusionMatrix(dataset.test.labels, test.predicted, dataset.classNames.length);
  await writeConfusionMatrix(
    matrix,
    dataset.classNames,
    join(runDir, RUN_FILES.confusionMatrix),
    'Confusion matrix (test split)',
  );
}

const HISTORY_KEYS = [
  'loss',
  'accuracy',
  'val_loss',
  'val_accuracy',
  'learning_rate',
  'epoch_seconds',
  'images_per_second',
] as const;
type HistoryKey = (typeof HISTORY_KEYS)[number];

/** History as Keras's `history.history`: one array per metric, epoch order. */
export function historyColumns(history: EpochRecord[]): Record<HistoryKey, number[]> {
  return Object.fromEntries(
    HISTORY_KEYS.map((key) => [key, history.map((record) => record[key])]),
  ) as Record<HistoryKey, number[]>;
}

/** Six images spread evenly over the split, with predictions when an evaluation is given. */
function samples(split: SplitData, classNames: string[], evaluation?: Evaluation): Sample[] {
  const count = Math.min(SAMPLE_COUNT, split.count);
  const pixels = split.height * split.width * 3;

  return Array.from({ length: count }, (_, sample) => {
    const index = Math.floor((sample * split.count) / count);
    const predicted = evaluation?.predicted[index];
    return {
      image: split.images.subarray(index * pixels, (index + 1) * pixels),
      height: split.height,
      width: split.width,
      trueLabel: classNames[split.labels[index]!]!,
      predictedLabel: predicted === undefined ? undefined : classNames[predicted],
      probability: evaluation?.confidence[index],
    };
  });
}
