/**
 * The training loop of one trial: the tutorial's recipe (Adam, categorical cross-entropy,
 * batch 32, augmentation on the training split) with Keras-faithful callbacks, a checkpoint
 * after every epoch, and resume from that checkpoint.
 *
 * The loop is ours rather than `model.fit` so that it can checkpoint the optimizer and the
 * callbacks, resume mid-trial, report every epoch to Temporal and detect divergence per batch.
 */
import { mkdir } from 'node:fs/promises';

import type { LayersModel, Scalar, Tensor, Variable } from '@tensorflow/tfjs-node';

import { augmentBatch, batchIterator, batchSeed, preprocessBatch } from '../data/batches.js';
import type { LoadedDataset, SplitData } from '../data/dataset.js';
import { loadDataset } from '../data/dataset.js';
import { DivergedError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { tf } from '../lib/tf.js';
import { buildAttentionCnn, formatSummary } from '../model/attention-cnn.js';
import type { TrialConfig } from '../spec/schema.js';
import {
  EarlyStopping,
  ModelCheckpoint,
  ReduceLrOnPlateau,
  checkMonitors,
  type CheckpointState,
  type EarlyStoppingState,
  type EpochLogs,
  type ReduceLrOnPlateauState,
} from './callbacks/index.js';
import {
  checkpointDir,
  disposeGroups,
  loadCheckpoint,
  saveCheckpoint,
  type NamedTensor,
} from './checkpoint.js';
import { useFastGradients } from './fast-gradients.js';
import { isPlateau, learningRateAt } from './schedules.js';
import { blockAfterBatch, crashAfterCheckpoint } from './test-knobs.js';

/** Everything recorded per epoch; `history.json` holds one array per key. */
export interface EpochRecord extends EpochLogs {
  /** 1-based epoch number, as Keras prints it. */
  epoch: number;
  /** The learning rate actually used during this epoch. */
  learning_rate: number;
  epoch_seconds: number;
  /** Training images per second over the epoch (augmentation included). */
  images_per_second: number;
}

/** What is known once the data is loaded and the model built. */
export interface StartReport {
  /** Keras-style model summary table. */
  summary: string;
  parameterCount: number;
  classNames: string[];
  /** Images per split. */
  counts: { train: number; val: number; test: number };
  /** Epochs already done by a resumed trial (0 for a fresh one). */
  resumedFromEpoch: number;
}

/** Progress inside an epoch, for progress bars. */
export interface BatchReport {
  epoch: number;
  batch: number;
  batches: number;
  /** Running means over the epoch so far. */
  loss: number;
  accuracy: number;
}

/** Sent after every epoch, once its checkpoint is on disk. */
export interface EpochReport {
  epoch: number;
  epochs: number;
  logs: EpochRecord;
  checkpointDir: string;
  /** True when the learning rate was cut after this epoch. */
  learningRateReduced: boolean;
}

/** Options of `trainTrial`. */
export interface TrainTrialInput {
  config: TrialConfig;
  /** Folder for the checkpoint and outputs; created if missing. */
  runDir: string;
  /** Continue from `<runDir>/checkpoint` when one exists (a retried trial). Default false. */
  resume?: boolean;
  /** Aborts between batches; the checkpoint of the last finished epoch stays on disk. */
  signal?: AbortSignal;
  /** Already-loaded data (tests, benchmarks); loaded from `config.dataset` when absent. */
  dataset?: LoadedDataset;
  /** Called once the model is built and any checkpoint restored, before the first batch. */
  onStart?: (report: StartReport) => void;
  onBatch?: (report: BatchReport) => void;
  onEpoch?: (report: EpochReport) => void | Promise<void>;
}

/** What a finished trial returns: a small summary, never tensors or per-batch data. */
export interface TrainingResult {
  model: LayersModel;
  dataset: LoadedDataset;
  history: EpochRecord[];
  epochsRun: number;
  /** 1-based epoch of the best `callbacks.checkpoint.monitor` value (0 if none). */
  bestEpoch: number;
  bestValAccuracy: number;
  stoppedEarly: boolean;
  resumedFromEpoch: number;
  durationMs: number;
}

/** The JSON part of a checkpoint. */
interface TrainerState {
  /** Epochs completed (the next epoch index, 0-based). */
  epochsDone: number;
  learningRate: number;
  history: EpochRecord[];
  checkpoint: CheckpointState;
  reduceLr: ReduceLrOnPlateauState;
  earlyStopping: EarlyStoppingState;
  stopped: boolean;
}

const AVAILABLE_METRICS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;
const EPSILON = 1e-7;

/**
 * Trains one trial. The returned model holds the weights Keras would leave in memory (the
 * best epoch's when early stopping restores them); the caller evaluates and disposes it.
 *
 * @throws ConfigError before the first epoch for an unknown monitored metric.
 * @throws DatasetError when the dataset cannot be read.
 * @throws DivergedError when a batch loss becomes NaN or infinite.
 * @throws the signal's reason when `signal` aborts (checked between batches).
 */
export async function trainModel(input: TrainTrialInput): Promise<TrainingResult> {
  const started = performance.now();
  const { config, runDir } = input;
  checkMonitors(config.callbacks, AVAILABLE_METRICS);
  // TensorFlow's fused gradient kernels roughly halve a training step (fast-gradients.ts).
  useFastGradients();

  // The run folder is made once the data loads, so bad data leaves no empty folder behind.
  const dataset = input.dataset ?? (await loadDataset(config.dataset));
  await mkdir(runDir, { recursive: true });
  const model = buildAttentionCnn(config.model, {
    height: dataset.train.height,
    width: dataset.train.width,
    classCount: dataset.classNames.length,
    seed: config.training.seed,
  });
  const optimizer = tf.train.adam(config.training.learningRate, 0.9, 0.999, EPSILON);
  const trainable = model.trainableWeights.map((weight) => weight.read() as Variable);

  const loop = new TrainingLoop(input, model, optimizer, trainable, dataset);
  try {
    if (input.resume === true) await loop.restore();
    input.onStart?.({
      summary: formatSummary(model),
      parameterCount: model.countParams(),
      classNames: dataset.classNames,
      counts: { train: dataset.train.count, val: dataset.val.count, test: dataset.test.count },
      resumedFromEpoch: loop.resumedFromEpoch,
    });
    await loop.run();
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    loop.dispose();
    optimizer.dispose();
  }

  return {
    model,
    dataset,
    history: loop.history,
    epochsRun: loop.history.length,
    bestEpoch: (loop.checkpoint.bestEpoch ?? -1) + 1,
    bestValAccuracy: Math.max(...loop.history.map((record) => record.val_accuracy), 0),
    stoppedEarly: loop.stopped,
    resumedFromEpoch: loop.resumedFromEpoch,
    durationMs: Math.round(performance.now() - started),
  };
}

/** State of one trial's loop; split out so each step stays a short method. */
class TrainingLoop {
  history: EpochRecord[] = [];
  stopped = false;
  resumedFromEpoch = 0;
  checkpoint: ModelCheckpoint;

  private reduceLr: ReduceLrOnPlateau;
  private earlyStopping: EarlyStopping;
  private learningRate: number;
  private epochsDone = 0;
  /** Weights of the early-stopping best epoch, restored at the end. */
  private bestWeights: Tensor[] | undefined;

  constructor(
    private readonly input: TrainTrialInput,
    private readonly model: LayersModel,
    private readonly optimizer: ReturnType<typeof tf.train.adam>,
    private readonly trainable: Variable[],
    private readonly dataset: LoadedDataset,
  ) {
    const { callbacks, training } = input.config;
    this.checkpoint = new ModelCheckpoint(callbacks.checkpoint);
    this.reduceLr = new ReduceLrOnPlateau(callbacks.reduceLrOnPlateau);
    this.earlyStopping = new EarlyStopping(callbacks.earlyStopping);
    this.learningRate = training.learningRate;
  }

  /** Loads `<runDir>/checkpoint` if present, so the loop continues after its last epoch. */
  async restore(): Promise<void> {
    const saved = await loadCheckpoint<TrainerState>(checkpointDir(this.input.runDir));
    if (saved === undefined) return;

    const { callbacks } = this.input.config;
    const { state, groups } = saved;
    this.epochsDone = state.epochsDone;
    this.resumedFromEpoch = state.epochsDone;
    this.learningRate = state.learningRate;
    this.history = state.history;
    this.stopped = state.stopped;
    this.checkpoint = ModelCheckpoint.fromState(callbacks.checkpoint, state.checkpoint);
    this.reduceLr = ReduceLrOnPlateau.fromState(callbacks.reduceLrOnPlateau, state.reduceLr);
    this.earlyStopping = EarlyStopping.fromState(callbacks.earlyStopping, state.earlyStopping);

    this.model.setWeights((groups.model ?? []).map(({ tensor }) => tensor));
    // setWeights makes variables that share the loaded tensors' data, so ours can go.
    await this.optimizer.setWeights(groups.optimizer ?? []);
    this.bestWeights = groups.bestWeights?.map(({ tensor }) => tensor);
    disposeGroups({ model: groups.model ?? [], optimizer: groups.optimizer ?? [] });

    logger.info(
      { runDir: this.input.runDir, epoch: state.epochsDone },
      'trial resumed from checkpoint',
    );
  }

  async run(): Promise<void> {
    const { epochs } = this.input.config.training;

    while (!this.stopped && this.epochsDone < epochs) {
      const record = await this.trainEpoch(this.epochsDone);
      const reduced = this.applyCallbacks(this.epochsDone, record);
      this.history.push(record);
      this.epochsDone += 1;
      await this.saveCheckpoint();
      crashAfterCheckpoint(this.input.config.testOnly, this.epochsDone, this.resumedFromEpoch);

      await this.input.onEpoch?.({
        epoch: record.epoch,
        epochs,
        logs: record,
        checkpointDir: checkpointDir(this.input.runDir),
        learningRateReduced: reduced,
      });
    }

    // Keras restores the best weights when it stops early; we also do it when training ends
    // at the last epoch, so the model left in memory is always the best one.
    if (this.earlyStopping.restoresBestWeights && this.bestWeights !== undefined) {
      this.model.setWeights(this.bestWeights);
    }
  }

  private async trainEpoch(epoch: number): Promise<EpochRecord> {
    const { training, augmentation } = this.input.config;
    const learningRate = this.learningRateFor(epoch);
    setLearningRate(this.optimizer, learningRate);

    const started = performance.now();
    const split = this.dataset.train;
    const batches = Math.ceil(split.count / training.batchSize);
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let batch = 0;

    const iterator = batchIterator(split, {
      batchSize: training.batchSize,
      shuffle: true,
      seed: training.seed,
      epoch,
    });
    for (const { xs, ys, size } of iterator) {
      // A batch is synchronous native work; yield between batches, or a SIGTERM (abort) or
      // the loss of the worker's IPC channel would only be noticed at the end of the epoch,
      // while a retry may already train the same trial elsewhere.
      await yieldToEventLoop();
      if (this.input.signal?.aborted === true) {
        tf.dispose([xs, ys]);
        this.input.signal.throwIfAborted();
      }
      const images = augmentBatch(xs, augmentation, batchSeed(training.seed, epoch, batch));
      xs.dispose();

      const { loss, hits } = this.step(images, ys);
      images.dispose();
      ys.dispose();

      if (!Number.isFinite(loss)) throw new DivergedError(epoch + 1, batch + 1, loss);
      seen += size;
      lossSum += loss * size;
      correct += hits;
      batch += 1;
      blockAfterBatch(this.input.config.testOnly);
      this.input.onBatch?.({
        epoch: epoch + 1,
        batch,
        batches,
        loss: lossSum / seen,
        accuracy: correct / seen,
      });
    }

    const trainSeconds = (performance.now() - started) / 1000;
    const validation = evaluateSplit(
      this.model,
      this.dataset.val,
      augmentation.rescale,
      training.batchSize,
    );
    const epochSeconds = (performance.now() - started) / 1000;

    return {
      epoch: epoch + 1,
      loss: lossSum / seen,
      accuracy: correct / seen,
      val_loss: validation.loss,
      val_accuracy: validation.accuracy,
      learning_rate: learningRate,
      epoch_seconds: epochSeconds,
      images_per_second: seen / trainSeconds,
    };
  }

  /** One optimizer step; returns the batch's mean loss and its number of correct predictions. */
  private step(images: Tensor, labels: Tensor): { loss: number; hits: number } {
    let hitsTensor: Tensor | undefined;

    const lossTensor = this.optimizer.minimize(
      () => {
        const probabilities = this.model.apply(images, { training: true }) as Tensor;
        hitsTensor = tf.keep(countCorrect(probabilities, labels));
        return crossEntropy(probabilities, labels) as Scalar;
      },
      true,
      this.trainable,
    );

    const loss = lossTensor!.dataSync()[0]!;
    const hits = hitsTensor!.dataSync()[0]!;
    lossTensor!.dispose();
    hitsTensor!.dispose();
    return { loss, hits };
  }

  private learningRateFor(epoch: number): number {
    const { training } = this.input.config;
    if (isPlateau(training.schedule)) return this.learningRate;
    return learningRateAt(training.schedule, epoch, training.learningRate, training.epochs);
  }

  /** Runs the callbacks on a finished epoch; returns whether the learning rate was cut. */
  private applyCallbacks(epoch: number, record: EpochRecord): boolean {
    this.checkpoint.onEpochEnd(epoch, record);

    const { stop, improved } = this.earlyStopping.onEpochEnd(epoch, record);
    if (improved && this.input.config.callbacks.earlyStopping.restoreBestWeights) {
      this.keepBestWeights();
    }
    this.stopped = stop;

    if (!isPlateau(this.input.config.training.schedule)) return false;
    const next = this.reduceLr.onEpochEnd(epoch, record, this.learningRate);
    const reduced = next < this.learningRate;
    this.learningRate = next;
    return reduced;
  }

  private keepBestWeights(): void {
    for (const tensor of this.bestWeights ?? []) tensor.dispose();
    this.bestWeights = this.model.getWeights().map((weight) => weight.clone());
  }

  private async saveCheckpoint(): Promise<void> {
    const state: TrainerState = {
      epochsDone: this.epochsDone,
      learningRate: this.learningRate,
      history: this.history,
      checkpoint: this.checkpoint.state(),
      reduceLr: this.reduceLr.state(),
      earlyStopping: this.earlyStopping.state(),
      stopped: this.stopped,
    };
    const weights: NamedTensor[] = this.model
      .getWeights()
      .map((tensor, index) => ({ name: `w${index}`, tensor }));
    const bestWeights = (this.bestWeights ?? []).map((tensor, index) => ({
      name: `w${index}`,
      tensor,
    }));

    // getWeights returns the optimizer's variables plus a new scalar of the step count.
    const optimizerWeights = await this.optimizer.getWeights();
    try {
      await saveCheckpoint(checkpointDir(this.input.runDir), state, {
        model: weights,
        optimizer: optimizerWeights,
        bestWeights,
      });
    } finally {
      optimizerWeights[0]?.tensor.dispose();
    }
  }

  dispose(): void {
    for (const tensor of this.bestWeights ?? []) tensor.dispose();
    this.bestWeights = undefined;
  }
}

/** Keras's categorical cross-entropy on softmax outputs: clipped, summed, batch mean. */
export function crossEntropy(probabilities: Tensor, labels: Tensor): Tensor {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(probabilities, EPSILON, 1 - EPSILON);
    return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(clipped)), -1)));
  });
}

function countCorrect(probabilities: Tensor, labels: Tensor): Tensor {
  return tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, -1), tf.argMax(labels, -1)), 'float32')),
  );
}

/** Loss, accuracy and per-image predictions of a model on a split (no augmentation). */
export interface Evaluation {
  loss: number;
  accuracy: number;
  /** Predicted class per image, in the split's order. */
  predicted: Int32Array;
  /** Probability of the predicted class per image. */
  confidence: Float32Array;
}

/** Evaluates in inference mode (dropout off), batch by batch. */
export function evaluateSplit(
  model: LayersModel,
  split: SplitData,
  rescale: number,
  batchSize: number,
): Evaluation {
  const predicted = new Int32Array(split.count);
  const confidence = new Float32Array(split.count);
  let lossSum = 0;
  let correct = 0;
  let offset = 0;

  const batches = batchIterator(split, { batchSize, shuffle: false, seed: 0, epoch: 0 });
  for (const { xs, ys, size } of batches) {
    const images = preprocessBatch(xs, rescale);
    const probabilities = model.predict(images) as Tensor;
    const loss = crossEntropy(probabilities, ys);
    const classes = tf.argMax(probabilities, -1);
    const best = tf.max(probabilities, -1);

    lossSum += loss.dataSync()[0]! * size;
    predicted.set(classes.dataSync() as Int32Array, offset);
    confidence.set(best.dataSync() as Float32Array, offset);
    for (let index = 0; index < size; index++) {
      if (predicted[offset + index] === split.labels[offset + index]) correct += 1;
    }
    offset += size;
    tf.dispose([xs, ys, images, probabilities, loss, classes, best]);
  }

  return {
    loss: lossSum / Math.max(split.count, 1),
    accuracy: correct / Math.max(split.count, 1),
    predicted,
    confidence,
  };
}

/** Lets pending signals, timers and IPC events run before the next synchronous step. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * tfjs's Adam reads its `learningRate` field on every step but declares it protected; this is
 * the one place we write it (Keras's schedules and ReduceLROnPlateau do the same in Python).
 */
function setLearningRate(optimizer: ReturnType<typeof tf.train.adam>, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}
