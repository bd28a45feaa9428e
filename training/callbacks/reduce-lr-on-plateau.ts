/**
 * ReduceLROnPlateau: lowers the learning rate when the monitored metric stops improving. The
 * trainer applies the rate this callback returns to its optimizer.
 */
import { z } from 'zod';

import { ConfigError } from '../../lib/errors.js';
import type { CallbacksConfig, MonitoredMetric } from '../../spec/schema.js';
import {
  OptionProblems,
  isImprovement,
  parseState,
  resolveDirection,
  type Direction,
  type EpochLogs,
} from './monitor.js';

/** `callbacks.reduceLrOnPlateau` from the spec. */
export type ReduceLrOnPlateauOptions = CallbacksConfig['reduceLrOnPlateau'];

/** One reduction, for the trainer's log line and MLflow. */
export interface LearningRateReduction {
  /** 0-based epoch at whose end the rate was lowered; the new rate applies from epoch + 1. */
  epoch: number;
  fromLearningRate: number;
  toLearningRate: number;
}

/** What `ReduceLrOnPlateau.state()` returns; plain JSON. */
export interface ReduceLrOnPlateauState {
  kind: 'reduceLrOnPlateau';
  /** Best monitored value so far; `null` before the first improvement. */
  best: number | null;
  /** Epochs without improvement counted towards `patience`. */
  wait: number;
  /** Epochs of cooldown left. */
  cooldownCounter: number;
  lastReduction: LearningRateReduction | null;
}

const stateSchema = z.strictObject({
  kind: z.literal('reduceLrOnPlateau'),
  best: z.number().nullable(),
  wait: z.number().int().min(0),
  cooldownCounter: z.number().int().min(0),
  lastReduction: z
    .strictObject({
      epoch: z.number().int().min(0),
      fromLearningRate: z.number(),
      toLearningRate: z.number(),
    })
    .nullable(),
});

/**
 * Keras 3's `ReduceLROnPlateau`, step for step:
 *
 * - improvement means `current < best - minDelta` (min) or `current > best + minDelta` (max);
 *   it resets the wait counter and updates `best`. A NaN value never improves.
 * - while in cooldown, each epoch counts the cooldown down by one and resets the wait counter;
 *   an epoch that ends the cooldown already counts towards patience (so `cooldown: 1` behaves
 *   like `cooldown: 0`, as in Keras).
 * - after `patience` epochs without improvement the rate becomes `max(rate * factor,
 *   minLearningRate)`, the wait counter resets and the cooldown starts. With `patience: 0`
 *   every epoch without improvement reduces.
 * - once the rate is at `minLearningRate` (compared in float32, as Keras reads the optimizer's
 *   float32 variable) nothing changes any more.
 */
export class ReduceLrOnPlateau {
  /** Metric watched. */
  readonly monitor: MonitoredMetric;

  /** `min` or `max`, with `auto` resolved from the metric name. */
  readonly direction: Direction;

  private readonly options: ReduceLrOnPlateauOptions;
  private best: number | null = null;
  private wait = 0;
  private cooldownCounter = 0;
  private lastReductionValue: LearningRateReduction | null = null;

  /**
   * @param options `callbacks.reduceLrOnPlateau`, defaults applied (see spec/schema.ts).
   * @throws ConfigError listing every invalid option with the value received.
   */
  constructor(options: ReduceLrOnPlateauOptions) {
    const problems = new OptionProblems('callbacks.reduceLrOnPlateau');
    problems.monitor(options.monitor);
    problems.mode(options.mode);
    const factorOk = typeof options.factor === 'number' && options.factor > 0;
    problems.require(factorOk && options.factor < 1, 'factor', 'must be in (0, 1)', options.factor);
    problems.count('patience', options.patience);
    problems.nonNegative('minDelta', options.minDelta);
    problems.count('cooldown', options.cooldown);
    problems.nonNegative('minLearningRate', options.minLearningRate);
    problems.throwIfAny();

    this.options = { ...options };
    this.monitor = options.monitor;
    this.direction = resolveDirection(options.monitor, options.mode);
  }

  /**
   * Rebuilds the callback so that it continues exactly where `state` was taken.
   *
   * @throws ConfigError when the options are invalid or `state` is not this callback's state.
   */
  static fromState(options: ReduceLrOnPlateauOptions, state: unknown): ReduceLrOnPlateau {
    const parsed = parseState(stateSchema, state, 'callbacks.reduceLrOnPlateau');
    const callback = new ReduceLrOnPlateau(options);
    callback.best = parsed.best;
    callback.wait = parsed.wait;
    callback.cooldownCounter = parsed.cooldownCounter;
    callback.lastReductionValue = parsed.lastReduction;
    return callback;
  }

  /** The most recent reduction, or `null` if the rate was never lowered. */
  get lastReduction(): LearningRateReduction | null {
    return this.lastReductionValue;
  }

  /**
   * Feeds one finished epoch.
   *
   * @param epoch 0-based epoch index.
   * @param currentLearningRate the rate the epoch trained with.
   * @returns the rate for the next epoch: `currentLearningRate` itself, or the reduced rate
   *   (then `lastReduction.epoch === epoch`).
   * @throws ConfigError when `currentLearningRate` is not a positive finite number.
   */
  onEpochEnd(epoch: number, logs: EpochLogs, currentLearningRate: number): number {
    if (!(Number.isFinite(currentLearningRate) && currentLearningRate > 0)) {
      throw new ConfigError(
        `reduce-lr-on-plateau needs the current learning rate as a positive finite number; ` +
          `received ${currentLearningRate} at epoch ${epoch}`,
      );
    }

    const current = logs[this.monitor];

    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }

    if (isImprovement(current, this.best, this.direction, this.options.minDelta)) {
      this.best = current;
      this.wait = 0;
      return currentLearningRate;
    }

    if (this.cooldownCounter > 0) {
      return currentLearningRate;
    }

    this.wait += 1;
    if (this.wait < this.options.patience) {
      return currentLearningRate;
    }

    // Keras compares the optimizer's float32 rate with float32(min_lr); doing the same stops a
    // rate already at the floor from being "reduced" to itself forever.
    if (!(Math.fround(currentLearningRate) > Math.fround(this.options.minLearningRate))) {
      return currentLearningRate;
    }

    const next = Math.max(currentLearningRate * this.options.factor, this.options.minLearningRate);
    this.lastReductionValue = {
      epoch,
      fromLearningRate: currentLearningRate,
      toLearningRate: next,
    };
    this.cooldownCounter = this.options.cooldown;
    this.wait = 0;
    return next;
  }

  /** Everything needed to resume; pass it to `ReduceLrOnPlateau.fromState`. */
  state(): ReduceLrOnPlateauState {
    return {
      kind: 'reduceLrOnPlateau',
      best: this.best,
      wait: this.wait,
      cooldownCounter: this.cooldownCounter,
      lastReduction: this.lastReductionValue === null ? null : { ...this.lastReductionValue },
    };
  }
}
