import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { tf } from '../../lib/tf.js';
import { disposeGroups, loadCheckpoint, saveCheckpoint } from '../../training/checkpoint.js';

test('checkpoint - round-trips state and tensors, replacing the previous one', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'sweep-checkpoint-')), 'checkpoint');
  t.after(() => rm(dir, { recursive: true, force: true }));

  const weights = [
    { name: 'w0', tensor: tf.tensor([[1, 2], [3, 4]]) },
    { name: 'w1', tensor: tf.tensor([0.5]) },
  ];
  await saveCheckpoint(dir, { epochsDone: 1 }, { model: weights, bestWeights: [] });
  await saveCheckpoint(dir, { epochsDone: 2 }, { model: weights.slice(1) });

  const loaded = await loadCheckpoint<{ epochsDone: number }>(dir);
  assert.ok(loaded);
  assert.deepEqual(loaded.state, { epochsDone: 2 });
  assert.deepEqual(Object.keys(loaded.groups), ['model']);
  assert.deepEqual(loaded.groups.model![0]!.tensor.arraySync(), [0.5]);
  assert.deepEqual(loaded.groups.model![0]!.tensor.shape, [1]);

  // Nothing is left of the staging or previous folders.
  assert.deepEqual(await readdir(join(dir, '..')), ['checkpoint']);
  disposeGroups(loaded.groups);
  for (const { tensor } of weights) tensor.dispose();
});

test('checkpoint - a folder without a checkpoint loads as undefined', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sweep-checkpoint-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(await loadCheckpoint(join(dir, 'checkpoint')), undefined);
});
