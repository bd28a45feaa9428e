import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { workerSlots } from '../../cli/commands/worker.js';
import { ConfigError } from '../../lib/errors.js';
import { defaultSlots, threadsPerTrial } from '../../workers/worker.js';

describe('worker slots', () => {
  test('worker - a CPU worker offers half its cores, at least one slot', () => {
    assert.equal(defaultSlots({ cores: 2 }), 1);
    assert.equal(defaultSlots({ cores: 1 }), 1);
    assert.equal(defaultSlots({ cores: 16 }), 8);
  });

  test('worker - a GPU worker offers one slot per listed GPU', () => {
    assert.equal(defaultSlots({ gpus: ['0', '1'], cores: 64 }), 2);
    assert.deepEqual(workerSlots({ gpus: '0, 1,3' }), { slots: 3, gpus: ['0', '1', '3'] });
  });

  test('worker - trials share the cores: floor(cores / slots), at least one', () => {
    assert.equal(threadsPerTrial(2, 16), 8);
    assert.equal(threadsPerTrial(3, 16), 5);
    assert.equal(threadsPerTrial(4, 2), 1);
  });

  test('worker - bad --slots and --gpus are all reported at once', () => {
    assert.throws(
      () => workerSlots({ slots: 0, gpus: '0,x' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message ===
          '--gpus takes device numbers like 0,1; got "x"\n' +
            '--slots must be a whole number of at least 1, got 0',
    );
  });
});
