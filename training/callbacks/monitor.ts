/**
 * What the three callbacks share: the per-epoch logs they read, the direction a monitored
 * metric should move in, the Keras improvement test, and the check that every monitor names a
 * metric the trial actually reports.
 *
 * Pure TypeScript: no tf, no I/O, no clock, so a callback's decisions depend only on the
 * sequence of logs it is fed.
 */
import { z } from 'zod';

import { ConfigError } from '../../lib/errors.js';
import { MONITORED_METRICS, type CallbacksConfig } from '../../spec/schema.js';

/**
 * Metrics of one finished epoch, as Keras's `logs` dict: training loss and accuracy averaged
 * over the epoch, and the same on the validation split. A value may be NaN (a diverged or
 * empty split); a NaN never counts as an improvement.
 */
export interface EpochLogs {
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
}

/** `min`, `max` or `auto` (inferred from the metric name), as in the spec. */
export type MonitorMode = 'min' | 'max' | 'auto';

/** Which way is better for a monitored metric, once `auto` is resolved. */
export type Direction = 'min' | 'max';

/**
 * Resolves `auto` as Keras's ReduceLROnPlateau does: `max` when the name contains `acc`, else
 * `min`. For the four metrics this trainer reports this gives the same answer as Keras 3's
 * other callbacks (which ask the metric itself): losses go down, accuracies go up.
 */
export function resolveDirection(monitor: string, mode: MonitorMode): Direction {
  if (mode !== 'auto') {
    return mode;
  }

  return monitor.includes('acc') ? 'max' : 'min';
}

/**
 * The Keras improvement test: in `min` mode `current < best - minDelta`, in `max` mode
 * `current > best + minDelta`. `best` is `null` before the first improvement, which Keras
 * writes as +/-infinity, so any finite value improves on it.
 *
 * A NaN `current` is never an improvement (every comparison with NaN is false); `minDelta` is
 * taken as its absolute value, as Keras does.
 *
 * Note: recent Keras 3 releases start `best` at `None` and accept the first value whatever it
 * is, so a NaN first epoch becomes a best that nothing can beat. Here a NaN never becomes the
 * best value; for finite values the two agree.
 */
export function isImprovement(
  current: number,
  best: number | null,
  direction: Direction,
  minDelta: number,
): boolean {
  const reference = best ?? (direction === 'min' ? Infinity : -Infinity);
  const delta = Math.abs(minDelta);

  if (direction === 'min') {
    return current < reference - delta;
  }

  return current > reference + delta;
}

/** Where each callback's monitor lives in the spec, for messages. */
const MONITOR_KEYS = {
  checkpoint: 'callbacks.checkpoint.monitor',
  reduceLrOnPlateau: 'callbacks.reduceLrOnPlateau.monitor',
  earlyStopping: 'callbacks.earlyStopping.monitor',
} as const;

/**
 * Checks, before the first epoch, that every active callback monitors a metric the trial
 * reports. Keras only warns at the end of each epoch and then silently does nothing; a sweep
 * would burn hours on a trial whose early stopping can never fire, so this refuses instead.
 *
 * Early stopping is skipped when `callbacks.earlyStopping.enabled` is false.
 *
 * @param config the trial's callbacks section (defaults applied).
 * @param available metric names this trial will put in its epoch logs, e.g. `['loss',
 *   'accuracy']` when there is no validation split.
 * @throws ConfigError listing every offending key, the metric it names and the available
 *   names; nothing is thrown when all monitors are available.
 */
export function checkMonitors(config: CallbacksConfig, available: readonly string[]): void {
  const monitors: Array<{ key: string; monitor: string }> = [
    { key: MONITOR_KEYS.checkpoint, monitor: config.checkpoint.monitor },
    { key: MONITOR_KEYS.reduceLrOnPlateau, monitor: config.reduceLrOnPlateau.monitor },
  ];

  if (config.earlyStopping.enabled) {
    monitors.push({ key: MONITOR_KEYS.earlyStopping, monitor: config.earlyStopping.monitor });
  }

  const missing = monitors.filter(({ monitor }) => !available.includes(monitor));
  if (missing.length === 0) {
    return;
  }

  const names = available.length === 0 ? '(none)' : available.join(', ');
  const heading =
    missing.length === 1
      ? `1 callback monitors a metric this trial does not report (available: ${names}):`
      : `${missing.length} callbacks monitor metrics this trial does not report ` +
        `(available: ${names}):`;
  const lines = missing.map(({ key, monitor }) => `  ${key} is '${monitor}'`);

  throw new ConfigError([heading, ...lines].join('\n'), {
    hint: `Set each listed key to one of: ${names}; then check the spec with: sweep plan SPEC`,
  });
}

/**
 * Validates a saved callback state against its schema.
 *
 * @throws ConfigError naming the callback and the first key that does not fit.
 */
export function parseState<T>(schema: z.ZodType<T>, state: unknown, section: string): T {
  const parsed = schema.safeParse(state);
  if (parsed.success) {
    return parsed.data;
  }

  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
  throw new ConfigError(
    `cannot restore ${section} from saved state${where}: ${issue?.message ?? 'invalid'}`,
    { hint: 'Pass the object that state() returned for the same callback, unchanged.' },
  );
}

/**
 * Collects option problems so a constructor reports all of them at once. Each problem reads
 * `callbacks.<section>.<key> must ...; received <value>`.
 */
export class OptionProblems {
  private readonly problems: string[] = [];

  constructor(private readonly section: string) {}

  /** Records a problem with `key` unless `ok` holds. */
  require(ok: boolean, key: string, constraint: string, received: unknown): void {
    if (!ok) {
      this.problems.push(`${this.section}.${key} ${constraint}; received ${show(received)}`);
    }
  }

  /** Checks a monitor name against the metrics the trainer reports. */
  monitor(value: unknown): void {
    const names: readonly string[] = MONITORED_METRICS;
    const ok = typeof value === 'string' && names.includes(value);
    this.require(ok, 'monitor', `must be one of ${MONITORED_METRICS.join(', ')}`, value);
  }

  /** Checks a mode. */
  mode(value: unknown): void {
    const ok = value === 'min' || value === 'max' || value === 'auto';
    this.require(ok, 'mode', 'must be min, max or auto', value);
  }

  /** Checks a whole number that is 0 or more. */
  count(key: string, value: unknown): void {
    const ok = typeof value === 'number' && Number.isInteger(value) && value >= 0;
    this.require(ok, key, 'must be a whole number, 0 or more', value);
  }

  /** Checks a finite number that is 0 or more. */
  nonNegative(key: string, value: unknown): void {
    const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0;
    this.require(ok, key, 'must be a finite number, 0 or more', value);
  }

  /** Checks a boolean. */
  flag(key: string, value: unknown): void {
    this.require(typeof value === 'boolean', key, 'must be true or false', value);
  }

  /** Throws one ConfigError listing every problem recorded, if any. */
  throwIfAny(): void {
    if (this.problems.length === 0) {
      return;
    }

    const count = this.problems.length === 1 ? '1 problem' : `${this.problems.length} problems`;
    const lines = this.problems.map((problem) => `  ${problem}`);
    throw new ConfigError([`${count} in ${this.section}:`, ...lines].join('\n'), {
      hint: `Fix ${this.section} in the sweep spec, then check it with: sweep plan SPEC`,
    });
  }
}

function show(value: unknown): string {
  if (typeof value === 'string') {
    return `'${value}'`;
  }

  if (typeof value === 'number') {
    return String(value);
  }

  return JSON.stringify(value) ?? String(value);
}
