/**
 * EarlyStopping: ends training when the monitored metric stops improving, and tells the
 * trainer which epoch's weights to keep for the restore at the end.
 */
import { z } from 'zod';

import type { CallbacksConfig, MonitoredMetric } from '../../spec/schema.js';
import {
  OptionProblems,
  isImprovement,
  parseState,
  resolveDirection,
  type Direction,
  type EpochLogs,
} from './monitor.js';

/** `callbacks.earlyStopping` from the spec. */
export type EarlyStoppingOptions = CallbacksConfig['earlyStopping'];

/** What `EarlyStopping.state()` returns; plain JSON. */
export interface EarlyStoppingState {
  kind: 'earlyStopping';
  /** Best monitored value so far; `null` before the first improvement. */
  best: number | null;
  /** 0-based epoch whose weights the trainer holds as best; `null` before any. */
  bestEpoch: number | null;
  /** Epochs without improvement since the last one. */
  wait: number;
  /** 0-based epoch at which stopping was decided; `null` while training goes on. */
  stoppedEpoch: number | null;
}

const stateSchema = z.strictObject({
  kind: z.literal('earlyStopping'),
  best: z.number().nullable(),
  bestEpoch: z.number().int().min(0).nullable(),
  wait: z.number().int().min(0),
  stoppedEpoch: z.number().int().min(0).nullable(),
});

/**
 * Keras 3's `EarlyStopping` (no `baseline`, `start_from_epoch` 0), step for step:
 *
 * - improvement means `current < best - minDelta` (min) or `current > best + minDelta` (max);
 *   it resets the wait counter and makes the epoch the best epoch. A NaN never improves.
 * - every other epoch adds one to the wait counter; training stops at the end of the epoch
 *   where the counter reaches `patience` (so after `patience` flat epochs following the best
 *   one), never at epoch 0. With `patience: 0` the first flat epoch after epoch 0 stops.
 * - with `restoreBestWeights`, the first epoch counts as best even when its value does not
 *   improve (a NaN), because Keras then holds the current weights as the best so far.
 *
 * When `enabled` is false the callback is inert: it never stops and never asks for weights,
 * as if Keras had not been given the callback.
 */
export class EarlyStopping {
  /** Metric watched. */
  readonly monitor: MonitoredMetric;

  /** `min` or `max`, with `auto` resolved from the metric name. */
  readonly direction: Direction;

  private readonly options: EarlyStoppingOptions;
  private bestValue: number | null = null;
  private bestEpochValue: number | null = null;
  private wait = 0;
  private stoppedEpochValue: number | null = null;

  /**
   * @param options `callbacks.earlyStopping`, defaults applied (see spec/schema.ts).
   * @throws ConfigError listing every invalid option with the value received.
   */
  constructor(options: EarlyStoppingOptions) {
    const problems = new OptionProblems('callbacks.earlyStopping');
    problems.flag('enabled', options.enabled);
    problems.monitor(options.monitor);
    problems.mode(options.mode);
    problems.count('patience', options.patience);
    problems.nonNegative('minDelta', options.minDelta);
    problems.flag('restoreBestWeights', options.restoreBestWeights);
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
  static fromState(options: EarlyStoppingOptions, state: unknown): EarlyStopping {
    const parsed = parseState(stateSchema, state, 'callbacks.earlyStopping');
    const callback = new EarlyStopping(options);
    callback.bestValue = parsed.best;
    callback.bestEpochValue = parsed.bestEpoch;
    callback.wait = parsed.wait;
    callback.stoppedEpochValue = parsed.stoppedEpoch;
    return callback;
  }

  /**
   * Whether the trainer must put the best epoch's weights back when training ends, however it
   * ends: `enabled && restoreBestWeights` and a best epoch exists.
   */
  get restoresBestWeights(): boolean {
    return this.options.enabled && this.options.restoreBestWeights && this.bestEpochValue !== null;
  }

  /** Best monitored value so far; `null` before the first improvement. */
  get best(): number | null {
    return this.bestValue;
  }

  /** 0-based epoch of the best weights; `null` before any. */
  get bestEpoch(): number | null {
    return this.bestEpochValue;
  }

  /** 0-based epoch at which this callback stopped training; `null` if it has not. */
  get stoppedEpoch(): number | null {
    return this.stoppedEpochValue;
  }

  /**
   * Feeds one finished epoch.
   *
   * @param epoch 0-based epoch index.
   * @returns `stop: true` when training should end after this epoch; `improved: true` when
   *   this epoch became the best epoch and the trainer should keep a copy of its weights.
   */
  onEpochEnd(epoch: number, logs: EpochLogs): { stop: boolean; improved: boolean } {
    if (!this.options.enabled) {
      return { stop: false, improved: false };
    }

    const current = logs[this.monitor];
    const keepsWeights = this.options.restoreBestWeights;
    const firstKept = keepsWeights && this.bestEpochValue === null;
    if (firstKept) {
      this.bestEpochValue = epoch;
    }

    this.wait += 1;
    if (isImprovement(current, this.bestValue, this.direction, this.options.minDelta)) {
      this.bestValue = current;
      this.bestEpochValue = epoch;
      this.wait = 0;
      return { stop: false, improved: true };
    }

    if (this.wait >= this.options.patience && epoch > 0) {
      this.stoppedEpochValue = epoch;
      return { stop: true, improved: firstKept };
    }

    return { stop: false, improved: firstKept };
  }

  /** Everything needed to resume; pass it to `EarlyStopping.fromState`. */
  state(): EarlyStoppingState {
    return {
      kind: 'earlyStopping',
      best: this.bestValue,
      bestEpoch: this.bestEpochValue,
      wait: this.wait,
      stoppedEpoch: this.stoppedEpochValue,
    };
  }
}
