import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ConfigError } from '../../lib/errors.js';
import { ModelCheckpoint, type CheckpointOptions } from '../../training/callbacks/index.js';
import { assertResumesIdentically, logsOf, noisyCurve } from './callback-helpers.js';

const maxAccuracy: CheckpointOptions = { monitor: 'val_accuracy', mode: 'auto' };
const minLoss: CheckpointOptions = { monitor: 'val_loss', mode: 'auto' };

function improvements(options: CheckpointOptions, values: number[]): boolean[] {
  const checkpoint = new ModelCheckpoint(options);
  return values.map((value, epoch) => checkpoint.onEpochEnd(epoch, logsOf(value)).improved);
}

describe('ModelCheckpoint', () => {
  test('checkpoint - saves the first epoch and then only strictly better ones', () => {
    const values = [0.5, 0.6, 0.6, 0.55, 0.7];

    assert.deepEqual(improvements(maxAccuracy, values), [true, true, false, false, true]);
  });

  test('checkpoint - tracks the best value and its epoch', () => {
    const checkpoint = new ModelCheckpoint(minLoss);
    assert.equal(checkpoint.best, null);
    assert.equal(checkpoint.bestEpoch, null);

    for (const [epoch, value] of [0.9, 0.7, 0.8, 0.75].entries()) {
      checkpoint.onEpochEnd(epoch, logsOf(value));
    }

    assert.equal(checkpoint.best, 0.7);
    assert.equal(checkpoint.bestEpoch, 1);
  });

  test('checkpoint - an explicit mode overrides the name', () => {
    const values = [0.5, 0.4, 0.6];

    assert.deepEqual(improvements({ monitor: 'val_accuracy', mode: 'min' }, values), [
      true,
      true,
      false,
    ]);
  });

  test('checkpoint - a NaN metric never counts as an improvement', () => {
    const checkpoint = new ModelCheckpoint(minLoss);

    assert.deepEqual(checkpoint.onEpochEnd(0, logsOf(Number.NaN)), { improved: false });
    assert.equal(checkpoint.bestEpoch, null);
    assert.deepEqual(checkpoint.onEpochEnd(1, logsOf(2)), { improved: true });
    assert.deepEqual(checkpoint.onEpochEnd(2, logsOf(Number.NaN)), { improved: false });
    assert.equal(checkpoint.best, 2);
    assert.equal(checkpoint.bestEpoch, 1);
  });

  test('checkpoint - reads only its own monitor from the logs', () => {
    const checkpoint = new ModelCheckpoint(maxAccuracy);
    const logs = { loss: 9, accuracy: 0.1, val_loss: 9, val_accuracy: 0.8 };

    checkpoint.onEpochEnd(0, logs);

    assert.equal(checkpoint.best, 0.8);
  });

  test('checkpoint - restored after any epoch makes the same decisions', () => {
    const values = noisyCurve(30);

    assertResumesIdentically(
      values.length,
      () => {
        const checkpoint = new ModelCheckpoint(minLoss);
        return {
          step: (epoch) => checkpoint.onEpochEnd(epoch, logsOf(values[epoch] ?? Number.NaN)),
          state: () => checkpoint.state(),
        };
      },
      (state) => {
        const checkpoint = ModelCheckpoint.fromState(minLoss, state);
        return {
          step: (epoch) => checkpoint.onEpochEnd(epoch, logsOf(values[epoch] ?? Number.NaN)),
          state: () => checkpoint.state(),
        };
      },
    );
  });

  test('checkpoint - rejects an unknown monitor and mode together', () => {
    const options = { monitor: 'val_f1', mode: 'best' } as unknown as CheckpointOptions;

    assert.throws(() => new ModelCheckpoint(options), {
      name: 'ConfigError',
      message:
        '2 problems in callbacks.checkpoint:\n' +
        "  callbacks.checkpoint.monitor must be one of loss, accuracy, val_loss, val_accuracy; " +
        "received 'val_f1'\n" +
        "  callbacks.checkpoint.mode must be min, max or auto; received 'best'",
    });
  });

  test('checkpoint - refuses a state that belongs to another callback', () => {
    const state = { kind: 'earlyStopping', best: 1, bestEpoch: 0, wait: 0, stoppedEpoch: null };

    assert.throws(
      () => ModelCheckpoint.fromState(minLoss, state),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(
          error.message,
          'cannot restore callbacks.checkpoint from saved state at kind: ' +
            'Invalid input: expected "checkpoint"',
        );
        assert.equal(
          error.hint,
          'Pass the object that state() returned for the same callback, unchanged.',
        );
        return true;
      },
    );
  });
});
