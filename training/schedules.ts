/**
 * Learning-rate schedules that depend only on the epoch. The `plateau` schedule is different:
 * its rate depends on the metrics, so ReduceLrOnPlateau drives it (see `isPlateau`).
 *
 * A trainer sets the rate before each epoch from `learningRateAt(schedule, epoch, initial,
 * totalEpochs)`, unless `isPlateau(schedule)`: then it starts at `initial` and takes the rate
 * that `ReduceLrOnPlateau.onEpochEnd` returns after each epoch.
 */
import { ConfigError } from '../lib/errors.js';
import type { Schedule } from '../spec/schema.js';

/** `plateau`: the rate starts at `training.learningRate` and ReduceLrOnPlateau lowers it. */
export type PlateauSchedule = Extract<Schedule, { name: 'plateau' }>;

/** Every schedule whose rate is a function of the epoch alone. */
export type EpochSchedule = Exclude<Schedule, PlateauSchedule>;

/**
 * Whether the rate is driven by ReduceLrOnPlateau rather than by `learningRateAt`. Narrows the
 * type, so the other branch can call `learningRateAt` without a cast.
 */
export function isPlateau(schedule: Schedule): schedule is PlateauSchedule {
  return schedule.name === 'plateau';
}

/**
 * The learning rate to train epoch `epoch` with.
 *
 * - `constant`: `initial`.
 * - `step`: `initial * factor ** floor(epoch / everyEpochs)`.
 * - `exponential`: `initial * decayRate ** epoch`.
 * - `cosine`: for epochs `0 .. warmupEpochs - 1` a linear ramp `(epoch + 1) / warmupEpochs *
 *   initial`, so the last warm-up epoch trains at `initial`; then over the `totalEpochs -
 *   warmupEpochs` remaining epochs `min + (initial - min) * (1 + cos(pi * t)) / 2` with
 *   `t = (epoch - warmupEpochs) / (totalEpochs - warmupEpochs)`. The first cosine epoch trains
 *   at `initial`; `minLearningRate` would be reached at epoch `totalEpochs`, one past the
 *   last, so no epoch is spent at the floor (a floor of 0 would waste it). Epochs past the
 *   end stay at `minLearningRate`.
 *
 * @param schedule any schedule but `plateau` (use `isPlateau` first).
 * @param epoch 0-based epoch index, a whole number >= 0.
 * @param initial `training.learningRate`, > 0.
 * @param totalEpochs `training.epochs`, a whole number >= 1; only `cosine` uses it.
 * @throws ConfigError for a `plateau` schedule or an argument out of range, naming the value.
 */
export function learningRateAt(
  schedule: EpochSchedule,
  epoch: number,
  initial: number,
  totalEpochs: number,
): number {
  checkArguments(schedule, epoch, initial, totalEpochs);

  switch (schedule.name) {
    case 'constant':
      return initial;

    case 'step':
      return initial * schedule.factor ** Math.floor(epoch / schedule.everyEpochs);

    case 'exponential':
      return initial * schedule.decayRate ** epoch;

    case 'cosine':
      return cosineRate(schedule, epoch, initial, totalEpochs);
  }
}

function cosineRate(
  schedule: Extract<Schedule, { name: 'cosine' }>,
  epoch: number,
  initial: number,
  totalEpochs: number,
): number {
  const warmup = schedule.warmupEpochs;
  if (epoch < warmup) {
    return ((epoch + 1) / warmup) * initial;
  }

  const decayEpochs = totalEpochs - warmup;
  const progress = decayEpochs <= 0 ? 1 : Math.min(1, (epoch - warmup) / decayEpochs);
  const floor = schedule.minLearningRate;
  return floor + ((initial - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
}

function checkArguments(
  schedule: Schedule,
  epoch: number,
  initial: number,
  totalEpochs: number,
): void {
  if (isPlateau(schedule)) {
    throw new ConfigError(
      'learningRateAt cannot compute the plateau schedule: its rate depends on the metrics',
      { hint: 'Check isPlateau(schedule) first and let ReduceLrOnPlateau drive the rate.' },
    );
  }

  const problems: string[] = [];
  if (!(Number.isInteger(epoch) && epoch >= 0)) {
    problems.push(`epoch must be a whole number, 0 or more; received ${epoch}`);
  }

  if (!(Number.isFinite(initial) && initial > 0)) {
    problems.push(`training.learningRate must be greater than 0; received ${initial}`);
  }

  if (!(Number.isInteger(totalEpochs) && totalEpochs >= 1)) {
    problems.push(`training.epochs must be a whole number, at least 1; received ${totalEpochs}`);
  }

  if (problems.length > 0) {
    const message = `cannot compute the ${schedule.name} learning rate: ${problems.join('; ')}`;
    throw new ConfigError(message);
  }
}
