/**
 * ModelCheckpoint with `save_best_only=True`: decides after each epoch whether the weights are
 * the best so far. The trainer owns the weights and does the saving.
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

/** `callbacks.checkpoint` from the spec. */
export type CheckpointOptions = CallbacksConfig['checkpoint'];

/** What `ModelCheckpoint.state()` returns; plain JSON. */
export interface CheckpointState {
  kind: 'checkpoint';
  /** Best monitored value so far; `null` before the first improvement. */
  best: number | null;
  /** 0-based epoch of `best`; `null` before the first improvement. */
  bestEpoch: number | null;
}

const stateSchema = z.strictObject({
  kind: z.literal('checkpoint'),
  best: z.number().nullable(),
  bestEpoch: z.number().int().min(0).nullable(),
});

/**
 * Keras's `ModelCheckpoint(save_best_only=True)`: an epoch is saved when its monitored value
 * beats every earlier one (strictly; no `min_delta`, as Keras).
 *
 * Edge cases: the first epoch with a finite value always improves (best starts at +/-infinity);
 * a NaN value never improves, so a trial whose monitor is NaN from the start has no best epoch
 * (`bestEpoch` stays `null`) and the trainer should keep its final weights.
 */
export class ModelCheckpoint {
  /** Metric watched. */
  readonly monitor: MonitoredMetric;

  /** `min` or `max`, with `auto` resolved from the metric name. */
  readonly direction: Direction;

  private bestValue: number | null = null;
  private bestEpochValue: number | null = null;

  /**
   * @param options `callbacks.checkpoint`, defaults applied (see spec/schema.ts).
   * @throws ConfigError listing every invalid option with the value received.
   */
  constructor(options: CheckpointOptions) {
    const problems = new OptionProblems('callbacks.checkpoint');
    problems.monitor(options.monitor);
    problems.mode(options.mode);
    problems.throwIfAny();

    this.monitor = options.monitor;
    this.direction = resolveDirection(options.monitor, options.mode);
  }

  /**
   * Rebuilds a checkpoint callback that continues exactly where `state` was taken.
   *
   * @throws ConfigError when the options are invalid or `state` is not a checkpoint state.
   */
  static fromState(options: CheckpointOptions, state: unknown): ModelCheckpoint {
    const parsed = parseState(stateSchema, state, 'callbacks.checkpoint');
    const callback = new ModelCheckpoint(options);
    callback.bestValue = parsed.best;
    callback.bestEpochValue = parsed.bestEpoch;
    return callback;
  }

  /** Best monitored value so far; `null` before the first improvement. */
  get best(): number | null {
    return this.bestValue;
  }

  /** 0-based epoch whose weights are the best so far; `null` before the first improvement. */
  get bestEpoch(): number | null {
    return this.bestEpochValue;
  }

  /**
   * Feeds one finished epoch.
   *
   * @param epoch 0-based epoch index.
   * @returns `improved: true` when the trainer should save this epoch's weights as the best.
   */
  onEpochEnd(epoch: number, logs: EpochLogs): { improved: boolean } {
    const current = logs[this.monitor];
    if (!isImprovement(current, this.bestValue, this.direction, 0)) {
      return { improved: false };
    }

    this.bestValue = current;
    this.bestEpochValue = epoch;
    return { improved: true };
  }

  /** Everything needed to resume; pass it to `ModelCheckpoint.fromState`. */
  state(): CheckpointState {
    return { kind: 'checkpoint', best: this.bestValue, bestEpoch: this.bestEpochValue };
  }
}
