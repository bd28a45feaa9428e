import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ConfigError } from '../../lib/errors.js';
import { callbacksSchema } from '../../spec/schema.js';
import {
  checkMonitors,
  isImprovement,
  resolveDirection,
} from '../../training/callbacks/index.js';

describe('resolveDirection', () => {
  test('resolve-direction - auto minimises losses and maximises accuracies', () => {
    assert.equal(resolveDirection('loss', 'auto'), 'min');
    assert.equal(resolveDirection('val_loss', 'auto'), 'min');
    assert.equal(resolveDirection('accuracy', 'auto'), 'max');
    assert.equal(resolveDirection('val_accuracy', 'auto'), 'max');
  });

  test('resolve-direction - an explicit mode wins over the name', () => {
    assert.equal(resolveDirection('val_accuracy', 'min'), 'min');
    assert.equal(resolveDirection('val_loss', 'max'), 'max');
  });
});

describe('isImprovement', () => {
  test('is-improvement - any finite value improves on no best yet', () => {
    assert.equal(isImprovement(5, null, 'min', 0), true);
    assert.equal(isImprovement(-5, null, 'max', 0), true);
  });

  test('is-improvement - min mode needs a drop larger than min delta', () => {
    assert.equal(isImprovement(0.95, 1, 'min', 0.1), false);
    assert.equal(isImprovement(0.9, 1, 'min', 0.1), false);
    assert.equal(isImprovement(0.89, 1, 'min', 0.1), true);
  });

  test('is-improvement - max mode needs a rise larger than min delta', () => {
    assert.equal(isImprovement(0.55, 0.5, 'max', 0.1), false);
    assert.equal(isImprovement(0.61, 0.5, 'max', 0.1), true);
  });

  test('is-improvement - a negative min delta is read as its absolute value, as Keras', () => {
    assert.equal(isImprovement(0.95, 1, 'min', -0.1), false);
    assert.equal(isImprovement(0.55, 0.5, 'max', -0.1), false);
  });

  test('is-improvement - a tie is not an improvement', () => {
    assert.equal(isImprovement(1, 1, 'min', 0), false);
    assert.equal(isImprovement(1, 1, 'max', 0), false);
  });

  test('is-improvement - NaN never improves, even on no best yet', () => {
    assert.equal(isImprovement(Number.NaN, null, 'min', 0), false);
    assert.equal(isImprovement(Number.NaN, 1, 'max', 0), false);
  });
});

describe('checkMonitors', () => {
  // Explicit monitors, so the tests do not depend on the schema's defaults.
  const config = callbacksSchema.parse({
    checkpoint: { monitor: 'val_accuracy' },
    reduceLrOnPlateau: { monitor: 'val_loss' },
    earlyStopping: { monitor: 'val_loss' },
  });

  test('check-monitors - accepts any monitor when all four metrics are reported', () => {
    assert.doesNotThrow(() => {
      checkMonitors(config, ['loss', 'accuracy', 'val_loss', 'val_accuracy']);
    });
  });

  test('check-monitors - lists every callback whose metric is missing', () => {
    assert.throws(
      () => checkMonitors(config, ['loss', 'accuracy']),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.equal(error.retryable, false);
        assert.equal(
          error.message,
          '3 callbacks monitor metrics this trial does not report (available: loss, accuracy):\n' +
            "  callbacks.checkpoint.monitor is 'val_accuracy'\n" +
            "  callbacks.reduceLrOnPlateau.monitor is 'val_loss'\n" +
            "  callbacks.earlyStopping.monitor is 'val_loss'",
        );
        assert.equal(
          error.hint,
          'Set each listed key to one of: loss, accuracy; then check the spec with: ' +
            'sweep plan SPEC',
        );
        return true;
      },
    );
  });

  test('check-monitors - ignores early stopping when it is disabled', () => {
    const trainOnly = callbacksSchema.parse({
      checkpoint: { monitor: 'accuracy' },
      reduceLrOnPlateau: { monitor: 'loss' },
      earlyStopping: { enabled: false },
    });

    assert.doesNotThrow(() => checkMonitors(trainOnly, ['loss', 'accuracy']));
  });

  test('check-monitors - names a single missing monitor in the singular', () => {
    const oneMissing = callbacksSchema.parse({
      checkpoint: { monitor: 'accuracy' },
      reduceLrOnPlateau: { monitor: 'loss' },
      earlyStopping: { monitor: 'val_loss' },
    });

    assert.throws(() => checkMonitors(oneMissing, ['loss', 'accuracy']), {
      name: 'ConfigError',
      message:
        '1 callback monitors a metric this trial does not report (available: loss, accuracy):\n' +
        "  callbacks.earlyStopping.monitor is 'val_loss'",
    });
  });
});
