import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { EarlyStopping, type EarlyStoppingOptions } from '../../training/callbacks/index.js';
import { assertResumesIdentically, logsOf, noisyCurve } from './callback-helpers.js';

function options(overrides: Partial<EarlyStoppingOptions> = {}): EarlyStoppingOptions {
  return {
    enabled: true,
    monitor: 'val_loss',
    mode: 'auto',
    patience: 2,
    minDelta: 0,
    restoreBestWeights: true,
    ...overrides,
  };
}

/** Runs until the callback stops; returns the epoch it stopped at, or null. */
function stopEpoch(callback: EarlyStopping, values: number[]): number | null {
  for (const [epoch, value] of values.entries()) {
    if (callback.onEpochEnd(epoch, logsOf(value)).stop) {
      return epoch;
    }
  }

  return null;
}

describe('EarlyStopping', () => {
  test('early-stopping - stops after patience flat epochs, as in Keras', () => {
    // Keras's test_early_stopping_patience: the stop epoch is max(patience, 1) + 2.
    const losses = [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5];
    const stops = [0, 1, 2, 3].map((patience) => {
      const callback = new EarlyStopping(options({ monitor: 'loss', patience }));
      const epoch = stopEpoch(callback, losses);
      assert.equal(callback.stoppedEpoch, epoch);
      return epoch;
    });

    assert.deepEqual(stops, [3, 3, 4, 5]);
  });

  test('early-stopping - keeps the best epoch for the restore at the end', () => {
    // Keras's restore test: the best loss is at epoch 2 and patience 2 stops at epoch 4.
    const callback = new EarlyStopping(options({ patience: 2 }));
    const decisions = [0.2, 0.15, 0.1, 0.11, 0.12].map((value, epoch) =>
      callback.onEpochEnd(epoch, logsOf(value)),
    );

    assert.deepEqual(decisions, [
      { stop: false, improved: true },
      { stop: false, improved: true },
      { stop: false, improved: true },
      { stop: false, improved: false },
      { stop: true, improved: false },
    ]);
    assert.equal(callback.bestEpoch, 2);
    assert.equal(callback.best, 0.1);
    assert.equal(callback.stoppedEpoch, 4);
    assert.equal(callback.restoresBestWeights, true);
  });

  test('early-stopping - an improvement resets the patience count', () => {
    const callback = new EarlyStopping(options({ patience: 2 }));

    assert.equal(stopEpoch(callback, [1, 1, 0.9, 0.95, 0.95, 0.95]), 4);
  });

  test('early-stopping - improvements smaller than min delta do not reset patience', () => {
    const callback = new EarlyStopping(options({ patience: 2, minDelta: 0.05 }));

    assert.equal(stopEpoch(callback, [1, 0.97, 0.96, 0.9]), 2);
    assert.equal(callback.bestEpoch, 0);
  });

  test('early-stopping - maximises accuracy in auto mode', () => {
    const callback = new EarlyStopping(options({ monitor: 'val_accuracy', patience: 1 }));

    assert.equal(stopEpoch(callback, [0.5, 0.6, 0.7, 0.65]), 3);
    assert.equal(callback.best, 0.7);
  });

  test('early-stopping - never stops at epoch 0, even with patience 0', () => {
    const callback = new EarlyStopping(options({ patience: 0 }));

    assert.deepEqual(callback.onEpochEnd(0, logsOf(Number.NaN)), { stop: false, improved: true });
    assert.deepEqual(callback.onEpochEnd(1, logsOf(Number.NaN)), { stop: true, improved: false });
  });

  test('early-stopping - a NaN first epoch is held as best weights but never as best value', () => {
    const callback = new EarlyStopping(options({ patience: 3 }));

    assert.deepEqual(callback.onEpochEnd(0, logsOf(Number.NaN)), { stop: false, improved: true });
    assert.equal(callback.best, null);
    assert.equal(callback.bestEpoch, 0);
    assert.deepEqual(callback.onEpochEnd(1, logsOf(0.8)), { stop: false, improved: true });
    assert.equal(callback.bestEpoch, 1);
  });

  test('early-stopping - without weight restore a NaN first epoch is not best', () => {
    const callback = new EarlyStopping(options({ restoreBestWeights: false }));

    assert.deepEqual(callback.onEpochEnd(0, logsOf(Number.NaN)), { stop: false, improved: false });
    assert.equal(callback.bestEpoch, null);
    assert.equal(callback.restoresBestWeights, false);
  });

  test('early-stopping - does nothing when disabled', () => {
    const callback = new EarlyStopping(options({ enabled: false, patience: 0 }));

    assert.equal(stopEpoch(callback, [1, 2, 3, 4]), null);
    assert.equal(callback.bestEpoch, null);
    assert.equal(callback.restoresBestWeights, false);
  });

  test('early-stopping - restored after any epoch makes the same decisions', () => {
    const values = noisyCurve(40, 3);
    const settings = options({ patience: 4, minDelta: 0.005 });
    const wrap = (callback: EarlyStopping) => ({
      step: (epoch: number) => callback.onEpochEnd(epoch, logsOf(values[epoch] ?? Number.NaN)),
      state: () => callback.state(),
    });

    assertResumesIdentically(
      values.length,
      () => wrap(new EarlyStopping(settings)),
      (state) => wrap(EarlyStopping.fromState(settings, state)),
    );
  });

  test('early-stopping - rejects invalid options with the value received', () => {
    const bad = options({ patience: 2.5, minDelta: -1 });

    assert.throws(() => new EarlyStopping(bad), {
      name: 'ConfigError',
      message:
        '2 problems in callbacks.earlyStopping:\n' +
        '  callbacks.earlyStopping.patience must be a whole number, 0 or more; received 2.5\n' +
        '  callbacks.earlyStopping.minDelta must be a finite number, 0 or more; received -1',
    });
  });
});
