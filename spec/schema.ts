/**
 * The sweep spec: what a researcher writes in `sweeps/*.yaml`.
 *
 * Every section has defaults that reproduce the Keras tutorial, so a spec only states what it
 * changes. Keys are camelCase; unknown keys are errors (see `spec/load.ts`).
 */
import { z } from 'zod';

/** Where the attention block (1x1 sigmoid conv multiplied onto the features) goes. */
export const ATTENTION_PLACEMENTS = ['none', 'block1', 'block2', 'block3', 'all'] as const;
export type AttentionPlacement = (typeof ATTENTION_PLACEMENTS)[number];

/** Learning-rate schedule names. `plateau` is the tutorial's ReduceLROnPlateau. */
export const SCHEDULE_NAMES = ['constant', 'plateau', 'step', 'exponential', 'cosine'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/** Metrics a callback may monitor; checked before the first epoch. */
export const MONITORED_METRICS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;
export type MonitoredMetric = (typeof MONITORED_METRICS)[number];

const rate = z.number().min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)');
const positiveInt = z.number().int('must be a whole number').positive('must be at least 1');
const nonNegativeInt = z.number().int('must be a whole number').min(0, 'must be 0 or more');
const positive = z.number().positive('must be greater than 0');

/** `128` or `[height, width]`, in pixels. */
const imageSize = z.union([positiveInt, z.tuple([positiveInt, positiveInt])]);

export const datasetSchema = z.strictObject({
  /**
   * Folder with `train/`, `val/` and `test/` class folders, or a single folder of class
   * folders to split by `split`. Relative paths are resolved from the spec file's folder.
   */
  root: z.string().min(1, 'must name a folder'),
  /** Target image size; images of other sizes are resized (nearest neighbour, as Keras). */
  imageSize: imageSize.default(128),
  /** Only for a single folder of classes: fractions and seed of the deterministic split. */
  split: z
    .strictObject({
      train: rate.default(0.7),
      val: rate.default(0.15),
      seed: nonNegativeInt.default(42),
    })
    .prefault({}),
  /** `fail` (default) stops before training on any unreadable image; `skip` warns and drops. */
  onCorrupt: z.enum(['fail', 'skip']).default('fail'),
  /** Use at most this many images per class and split (demos and tests). */
  maxPerClass: positiveInt.optional(),
});

export const augmentationSchema = z.strictObject({
  /** Multiplier applied to pixel values (Keras `rescale`). */
  rescale: positive.default(1 / 255),
  /** Shear angle range in degrees, as Keras's ImageDataGenerator reads `shear_range`. */
  shearRange: z.number().min(0, 'must be 0 or more').max(90, 'must be at most 90').default(0.2),
  /** Zoom factor range: each axis scales by a factor drawn from [1 - z, 1 + z]. */
  zoomRange: z.number().min(0, 'must be 0 or more').lt(1, 'must be below 1').default(0.2),
  horizontalFlip: z.boolean().default(true),
});

export const dropoutSchema = z.strictObject({
  block1: rate.default(0.1),
  block2: rate.default(0.1),
  block3: rate.default(0.25),
  dense: rate.default(0.5),
});

export const modelSchema = z.strictObject({
  dropout: dropoutSchema.prefault({}),
  attention: z.enum(ATTENTION_PLACEMENTS).default('block1'),
  denseUnits: positiveInt.default(128),
});

const constantSchedule = z.strictObject({ name: z.literal('constant') });
const plateauSchedule = z.strictObject({ name: z.literal('plateau') });
const stepSchedule = z.strictObject({
  name: z.literal('step'),
  /** Multiply the rate by `factor` every `everyEpochs` epochs. */
  everyEpochs: positiveInt.default(10),
  factor: positive.lt(1, 'must be below 1').default(0.5),
});
const exponentialSchedule = z.strictObject({
  name: z.literal('exponential'),
  /** Rate at epoch e is `initial * decayRate ** e`. */
  decayRate: positive.max(1, 'must be at most 1').default(0.95),
});
const cosineSchedule = z.strictObject({
  name: z.literal('cosine'),
  /** Linear warm-up from 0 over this many epochs, then cosine decay to `minLearningRate`. */
  warmupEpochs: nonNegativeInt.default(3),
  minLearningRate: z.number().min(0, 'must be 0 or more').default(0),
});

/**
 * A schedule as an object, or just its name (`cosine`), which takes the defaults.
 */
export const scheduleSchema = z.preprocess(
  (value) => (typeof value === 'string' ? { name: value } : value),
  z.discriminatedUnion('name', [
    constantSchedule,
    plateauSchedule,
    stepSchedule,
    exponentialSchedule,
    cosineSchedule,
  ]),
);
export type Schedule = z.infer<typeof scheduleSchema>;

export const trainingSchema = z.strictObject({
  epochs: positiveInt.default(100),
  batchSize: positiveInt.default(32),
  learningRate: positive.default(0.001),
  schedule: scheduleSchema.default({ name: 'plateau' }),
  /** Seed for weight init, shuffling, dropout and augmentation. */
  seed: nonNegativeInt.default(1),
  /** Intra-op threads for TensorFlow; 0 lets the worker choose from its slots. */
  threads: nonNegativeInt.default(0),
});

const monitor = z.enum(MONITORED_METRICS);
const mode = z.enum(['min', 'max', 'auto']).default('auto');

/**
 * The tutorial's callbacks: keep the best model by validation accuracy, cut the rate when
 * validation loss plateaus, stop when validation accuracy stops improving.
 */
export const callbacksSchema = z.strictObject({
  checkpoint: z
    .strictObject({ monitor: monitor.default('val_accuracy'), mode })
    .prefault({}),
  reduceLrOnPlateau: z
    .strictObject({
      monitor: monitor.default('val_loss'),
      mode,
      factor: positive.lt(1, 'must be below 1').default(0.2),
      patience: nonNegativeInt.default(5),
      minDelta: z.number().min(0, 'must be 0 or more').default(1e-4),
      cooldown: nonNegativeInt.default(0),
      minLearningRate: z.number().min(0, 'must be 0 or more').default(0),
    })
    .prefault({}),
  earlyStopping: z
    .strictObject({
      enabled: z.boolean().default(true),
      monitor: monitor.default('val_accuracy'),
      mode,
      patience: nonNegativeInt.default(15),
      minDelta: z.number().min(0, 'must be 0 or more').default(0),
      restoreBestWeights: z.boolean().default(true),
    })
    .prefault({}),
});

export const searchSchema = z.strictObject({
  method: z.enum(['grid', 'random']).default('grid'),
  /** Random search: how many trials to draw. */
  count: positiveInt.optional(),
  /** Random search: seed of the draw. */
  seed: nonNegativeInt.default(0),
  /** Refuse grids larger than this, to catch a typo that multiplies the sweep. */
  maxTrials: positiveInt.default(5000),
});

/**
 * Ways a test can make a trial's process die: `abort` (a native crash, SIGABRT), `oom`
 * (SIGKILL, as the kernel's out-of-memory killer sends) and `exit` (exits 1 without a result).
 */
export const CRASH_KINDS = ['abort', 'oom', 'exit'] as const;
/** One of {@link CRASH_KINDS}. */
export type CrashKind = (typeof CRASH_KINDS)[number];

/**
 * Test-only knobs of one trial, carried in its config (absent in real sweeps). The trainer
 * honours them (`training/test-knobs.ts`); `temporal/sweeps.ts` fills them from the spec's
 * `execution.testOnly`.
 */
export const trialTestKnobsSchema = z.strictObject({
  /** Crash the trial's process after this 1-based epoch's checkpoint, unless resumed past it. */
  crash: z.strictObject({ how: z.enum(CRASH_KINDS), afterEpoch: positiveInt }).optional(),
  /** Milliseconds to block the training thread after every batch. */
  slowBatchMs: nonNegativeInt.optional(),
});
/** The parsed form of {@link trialTestKnobsSchema}. */
export type TrialTestKnobs = z.infer<typeof trialTestKnobsSchema>;

export const executionSchema = z.strictObject({
  /** Most trials running at once across all workers. */
  concurrency: positiveInt.default(2),
  taskQueue: z.string().min(1).default('attention-sweep'),
  retry: z
    .strictObject({
      maximumAttempts: positiveInt.default(3),
      initialIntervalSeconds: positive.default(5),
    })
    .prefault({}),
  /**
   * Seconds a running trial may go without a heartbeat before Temporal counts its worker as
   * gone and retries the trial elsewhere (from its last epoch checkpoint). Trials heartbeat
   * every second, so a few seconds suffice on one machine; 30 (the default) tolerates long
   * garbage-collection pauses and network blips on a cluster.
   */
  heartbeatTimeoutSeconds: positiveInt.default(30),
  /** Test-only knobs; never use them in real sweeps. */
  testOnly: z
    .strictObject({
      /** Trial indices (0-based, in plan order) that fail on their first attempt(s). */
      failTrials: z.array(nonNegativeInt).default([]),
      /**
       * Trials whose process crashes right after an epoch's checkpoint, unless the trial
       * resumed past that epoch (so the retry finishes). See {@link trialTestKnobsSchema}.
       */
      crashTrials: z
        .array(
          z.strictObject({
            /** Trial index, 0-based in plan order. */
            index: nonNegativeInt,
            how: z.enum(CRASH_KINDS),
            /** 1-based epoch after whose checkpoint the process crashes; default 1. */
            afterEpoch: positiveInt.default(1),
          }),
        )
        .default([]),
      /**
       * Blocks the training thread this long after every batch of every trial, in
       * milliseconds, as a slow compute-bound batch would (tests that must act mid-trial).
       */
      slowBatchMs: nonNegativeInt.default(0),
    })
    .optional(),
});

/**
 * The grid: dotted key paths into the spec (e.g. `model.dropout.dense`) mapped to the list of
 * values to try. Each key must name a trained parameter; `spec/load.ts` checks every value
 * against the same rules as the base spec.
 */
export const gridSchema = z.record(
  z.string(),
  z.array(z.unknown()).min(1, 'must list at least one value'),
);

export const sweepSpecSchema = z.strictObject({
  /** Lowercase letters, digits and dashes; names the sweep in Temporal and MLflow. */
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes (max 63)'),
  description: z.string().optional(),
  dataset: datasetSchema,
  augmentation: augmentationSchema.prefault({}),
  model: modelSchema.prefault({}),
  training: trainingSchema.prefault({}),
  callbacks: callbacksSchema.prefault({}),
  search: searchSchema.prefault({}),
  grid: gridSchema.default({}),
  execution: executionSchema.prefault({}),
});

export type SweepSpec = z.infer<typeof sweepSpecSchema>;
export type DatasetConfig = z.infer<typeof datasetSchema>;
export type AugmentationConfig = z.infer<typeof augmentationSchema>;
export type ModelConfig = z.infer<typeof modelSchema>;
export type TrainingConfig = z.infer<typeof trainingSchema>;
export type CallbacksConfig = z.infer<typeof callbacksSchema>;

/**
 * Everything one trial needs to train: the spec with the trial's grid values applied.
 * Plain JSON, so it can travel as a Temporal activity input.
 */
export interface TrialConfig {
  dataset: DatasetConfig;
  augmentation: AugmentationConfig;
  model: ModelConfig;
  training: TrainingConfig;
  callbacks: CallbacksConfig;
  /** Test-only knobs (see {@link TrialTestKnobs}); absent in real sweeps. */
  testOnly?: TrialTestKnobs;
}
