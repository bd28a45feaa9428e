import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ReduceLrOnPlateau,
  type ReduceLrOnPlateauOptions,
} from '../../training/callbacks/index.js';
import { assertResumesIdentically, logsOf, noisyCurve } from './callback-helpers.js';

function options(overrides: Partial<ReduceLrOnPlateauOptions> = {}): ReduceLrOnPlateauOptions {
  return {
    monitor: 'val_loss',
    mode: 'auto',
    factor: 0.1,
    patience: 1,
    minDelta: 0,
    cooldown: 0,
    minLearningRate: 0,
    ...overrides,
  };
}

/** Feeds the values in order and returns the rate used by each following epoch. */
function rates(settings: ReduceLrOnPlateauOptions, values: number[], initial = 0.1): number[] {
  const callback = new ReduceLrOnPlateau(settings);
  let rate = initial;
  return values.map((value, epoch) => {
    rate = callback.onEpochEnd(epoch, logsOf(value), rate);
    return rate;
  });
}

describe('ReduceLrOnPlateau', () => {
  test('reduce-lr-on-plateau - lowers the rate after patience flat epochs', () => {
    const settings = options({ factor: 0.5, patience: 2 });
    const values = [1.0, 0.9, 0.95, 0.92, 0.8, 0.85, 0.85, 0.85];

    const expected = [0.08, 0.08, 0.08, 0.04, 0.04, 0.04, 0.02, 0.02];
    assert.deepEqual(rates(settings, values, 0.08), expected);
  });

  test('reduce-lr-on-plateau - with patience 0 every flat epoch reduces', () => {
    const values = [1.0, 1.0, 1.0, 0.5];

    assert.deepEqual(rates(options({ patience: 0, factor: 0.5 }), values, 1), [1, 0.5, 0.25, 0.25]);
  });

  test('reduce-lr-on-plateau - improvements smaller than min delta count as flat', () => {
    // Keras's test_reduces_lr_with_model_fit: min_delta 100 makes every epoch after the
    // first flat, so two epochs with patience 1 reduce 0.1 to 0.01 once.
    const settings = options({ minDelta: 100 });

    assert.deepEqual(rates(settings, [5, 4]), [0.1, 0.1 * 0.1]);
  });

  test('reduce-lr-on-plateau - cooldown skips epochs after a reduction', () => {
    // Keras's test_cooldown: patience 1, cooldown 2, four flat epochs reduce twice.
    const settings = options({ minDelta: 100, cooldown: 2 });
    const result = rates(settings, [5, 4, 3, 2]);

    assert.deepEqual(result, [0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
  });

  test('reduce-lr-on-plateau - a cooldown of 1 behaves like none, as in Keras', () => {
    const values = [1, 1, 1, 1];

    assert.deepEqual(rates(options({ cooldown: 1 }), values), rates(options(), values));
  });

  test('reduce-lr-on-plateau - an improvement during cooldown updates the best value', () => {
    const callback = new ReduceLrOnPlateau(options({ cooldown: 3 }));
    let rate = 1;
    for (const [epoch, value] of [1, 1, 0.5, 0.6, 0.6].entries()) {
      rate = callback.onEpochEnd(epoch, logsOf(value), rate);
    }

    // Reduced at epoch 1; epoch 2 improves to 0.5 inside the cooldown, so 0.6 at epochs 3
    // and 4 is flat against 0.5 and reduces again once the cooldown is over (epoch 4).
    assert.equal(rate, 0.1 * 0.1);
    assert.equal(callback.state().best, 0.5);
  });

  test('reduce-lr-on-plateau - never goes below the minimum and stops there', () => {
    // Keras's test_honors_min_lr: 0.1 -> 0.01 -> 0.005 (floor), then unchanged.
    const settings = options({ minDelta: 10, minLearningRate: 0.005 });
    const callback = new ReduceLrOnPlateau(settings);
    let rate = 0.1;
    const seen: number[] = [];
    for (const [epoch, value] of [5, 4, 3, 2, 1].entries()) {
      rate = callback.onEpochEnd(epoch, logsOf(value), rate);
      seen.push(rate);
    }

    assert.deepEqual(seen, [0.1, 0.1 * 0.1, 0.005, 0.005, 0.005]);
    assert.deepEqual(callback.lastReduction, {
      epoch: 2,
      fromLearningRate: 0.1 * 0.1,
      toLearningRate: 0.005,
    });
  });

  test('reduce-lr-on-plateau - treats a rate equal to the floor in float32 as at the floor', () => {
    const callback = new ReduceLrOnPlateau(options({ patience: 0, minLearningRate: 1e-6 }));
    callback.onEpochEnd(0, logsOf(1), 1);

    assert.equal(callback.onEpochEnd(1, logsOf(1), Math.fround(1e-6)), Math.fround(1e-6));
    assert.equal(callback.lastReduction, null);
  });

  test('reduce-lr-on-plateau - maximises accuracy in auto mode', () => {
    const settings = options({ monitor: 'val_accuracy', factor: 0.5 });

    assert.deepEqual(rates(settings, [0.5, 0.6, 0.55, 0.7], 1), [1, 1, 0.5, 0.5]);
  });

  test('reduce-lr-on-plateau - a NaN metric counts as a flat epoch', () => {
    assert.deepEqual(rates(options({ factor: 0.5 }), [1, Number.NaN], 1), [1, 0.5]);
  });

  test('reduce-lr-on-plateau - reports the last reduction for the log', () => {
    const callback = new ReduceLrOnPlateau(options({ factor: 0.5 }));
    assert.equal(callback.lastReduction, null);

    callback.onEpochEnd(0, logsOf(1), 0.4);
    const next = callback.onEpochEnd(1, logsOf(1), 0.4);

    assert.equal(next, 0.2);
    assert.deepEqual(callback.lastReduction, {
      epoch: 1,
      fromLearningRate: 0.4,
      toLearningRate: 0.2,
    });
  });

  test('reduce-lr-on-plateau - restored after any epoch makes the same decisions', () => {
    const values = noisyCurve(40);
    const settings = options({ factor: 0.5, patience: 2, minDelta: 0.01, cooldown: 2 });
    const wrap = (callback: ReduceLrOnPlateau) => {
      // The rate travels with the trainer's own checkpoint; replay it from the decisions.
      let rate = 0.01;
      return {
        step: (epoch: number) => {
          const last = callback.state().lastReduction;
          rate = last === null ? 0.01 : last.toLearningRate;
          rate = callback.onEpochEnd(epoch, logsOf(values[epoch] ?? Number.NaN), rate);
          return rate;
        },
        state: () => callback.state(),
      };
    };

    assertResumesIdentically(
      values.length,
      () => wrap(new ReduceLrOnPlateau(settings)),
      (state) => wrap(ReduceLrOnPlateau.fromState(settings, state)),
    );
  });

  test('reduce-lr-on-plateau - rejects every invalid option at once', () => {
    const bad = options({ factor: 1.5, patience: -1, minDelta: Number.NaN, cooldown: 0.5 });

    assert.throws(() => new ReduceLrOnPlateau(bad), {
      name: 'ConfigError',
      message:
        '4 problems in callbacks.reduceLrOnPlateau:\n' +
        '  callbacks.reduceLrOnPlateau.factor must be in (0, 1); received 1.5\n' +
        '  callbacks.reduceLrOnPlateau.patience must be a whole number, 0 or more; received -1\n' +
        '  callbacks.reduceLrOnPlateau.minDelta must be a finite number, 0 or more; ' +
        'received NaN\n' +
        '  callbacks.reduceLrOnPlateau.cooldown must be a whole number, 0 or more; received 0.5',
    });
  });

  test('reduce-lr-on-plateau - refuses a current rate that is not positive', () => {
    const callback = new ReduceLrOnPlateau(options());

    assert.throws(() => callback.onEpochEnd(3, logsOf(1), 0), {
      name: 'ConfigError',
      message:
        'reduce-lr-on-plateau needs the current learning rate as a positive finite number; ' +
        'received 0 at epoch 3',
    });
  });
});
