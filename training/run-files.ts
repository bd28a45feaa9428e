/**
 * The files a trial writes into its run folder, by name. Kept apart from `training/trial.ts`
 * so that code which only reads or uploads run folders never loads TensorFlow.
 */
export const RUN_FILES = {
  history: 'history.json',
  metrics: 'metrics.json',
  summary: 'model-summary.txt',
  model: 'model',
  curves: 'training-curves.png',
  trainSamples: 'train-samples.png',
  testPredictions: 'test-predictions.png',
  confusionMatrix: 'confusion-matrix.png',
} as const;

/** Folder of the epoch checkpoint; only for resuming, never uploaded. */
export const CHECKPOINT_DIR = 'checkpoint';
