import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { tf } from '../../lib/tf.js';

test('tf - runs on the native TensorFlow backend', () => {
  assert.equal(tf.getBackend(), 'tensorflow');
});

test('tf - refuses an unknown binding package instead of falling back to pure JS', () => {
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', "await import('./lib/tf.ts')"],
    {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SWEEP_TFJS_PACKAGE: '@tensorflow/tfjs' },
    },
  );

  assert.notEqual(child.status, 0);
  assert.match(
    child.stderr,
    new RegExp(
      'SWEEP_TFJS_PACKAGE must be @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, ' +
        'got @tensorflow/tfjs\n',
    ),
  );
});
