import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { scheduleSchema, type Schedule } from '../../spec/schema.js';
import { isPlateau, learningRateAt, type EpochSchedule } from '../../training/schedules.js';

/** The rates of epochs 0 .. totalEpochs - 1. */
function ratesOf(schedule: EpochSchedule, initial: number, totalEpochs: number): number[] {
  return Array.from({ length: totalEpochs }, (_, epoch) =>
    learningRateAt(schedule, epoch, initial, totalEpochs),
  );
}

describe('learningRateAt', () => {
  test('schedules - constant keeps the initial rate', () => {
    assert.deepEqual(ratesOf({ name: 'constant' }, 0.001, 3), [0.001, 0.001, 0.001]);
  });

  test('schedules - step multiplies by the factor every few epochs', () => {
    const schedule: EpochSchedule = { name: 'step', everyEpochs: 2, factor: 0.5 };

    assert.deepEqual(ratesOf(schedule, 0.8, 7), [0.8, 0.8, 0.4, 0.4, 0.2, 0.2, 0.1]);
  });

  test('schedules - exponential decays by the rate every epoch', () => {
    const schedule: EpochSchedule = { name: 'exponential', decayRate: 0.5 };

    assert.deepEqual(ratesOf(schedule, 1, 4), [1, 0.5, 0.25, 0.125]);
  });

  test('schedules - cosine warms up linearly, then decays to the floor past the end', () => {
    const schedule: EpochSchedule = { name: 'cosine', warmupEpochs: 2, minLearningRate: 0 };
    const rates = ratesOf(schedule, 1, 6);

    // Warm-up: 1/2, 2/2. Then t = 0, 1/4, 2/4, 3/4 over the 4 remaining epochs.
    const expected = [0.5, 1, 1, (1 + Math.SQRT1_2) / 2, 0.5, (1 - Math.SQRT1_2) / 2];
    assert.equal(rates.length, expected.length);
    for (const [epoch, rate] of rates.entries()) {
      assert.ok(Math.abs(rate - (expected[epoch] ?? Number.NaN)) < 1e-12, `epoch ${epoch}`);
    }
  });

  test('schedules - cosine decays towards the minimum rate, not zero', () => {
    const schedule: EpochSchedule = { name: 'cosine', warmupEpochs: 0, minLearningRate: 0.1 };

    assert.equal(learningRateAt(schedule, 0, 1.1, 2), 1.1);
    assert.ok(Math.abs(learningRateAt(schedule, 1, 1.1, 2) - 0.6) < 1e-12);
    assert.equal(learningRateAt(schedule, 5, 1.1, 2), 0.1);
  });

  test('schedules - cosine with all epochs in warm-up only ramps', () => {
    const schedule: EpochSchedule = { name: 'cosine', warmupEpochs: 4, minLearningRate: 0 };

    assert.deepEqual(ratesOf(schedule, 1, 4), [0.25, 0.5, 0.75, 1]);
  });

  test('schedules - the spec defaults parse into usable schedules', () => {
    const cosine = scheduleSchema.parse('cosine') as EpochSchedule;

    assert.equal(learningRateAt(cosine, 0, 0.003, 100), 0.001);
  });

  test('schedules - refuses the plateau schedule with a pointer to isPlateau', () => {
    const plateau = { name: 'plateau' } as unknown as EpochSchedule;

    assert.throws(() => learningRateAt(plateau, 0, 0.001, 10), {
      name: 'ConfigError',
      message:
        'learningRateAt cannot compute the plateau schedule: its rate depends on the metrics',
    });
  });

  test('schedules - refuses arguments out of range, naming each', () => {
    assert.throws(() => learningRateAt({ name: 'constant' }, -1, 0, 0), {
      name: 'ConfigError',
      message:
        'cannot compute the constant learning rate: ' +
        'epoch must be a whole number, 0 or more; received -1; ' +
        'training.learningRate must be greater than 0; received 0; ' +
        'training.epochs must be a whole number, at least 1; received 0',
    });
  });
});

describe('isPlateau', () => {
  test('schedules - only the plateau schedule is driven by ReduceLrOnPlateau', () => {
    const names: Schedule['name'][] = ['constant', 'plateau', 'step', 'exponential', 'cosine'];
    const flags = names.map((name) => isPlateau(scheduleSchema.parse(name)));

    assert.deepEqual(flags, [false, true, false, false, false]);
  });
});
