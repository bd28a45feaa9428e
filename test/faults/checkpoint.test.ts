/**
 * Epoch checkpoints under faults: the disk filling up while one is written (a real tmpfs too
 * small for two checkpoints), and a process killed between the two renames that replace it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { serializeError } from '../../activities/ipc.js';
import { tf } from '../../lib/tf.js';
import { sweepSpecSchema, type TrialConfig } from '../../spec/schema.js';
import {
  CheckpointWriteError,
  disposeGroups,
  loadCheckpoint,
  saveCheckpoint,
} from '../../training/checkpoint.js';
import { trainTrial } from '../../training/trial.js';
import { FLOWERS, NO_FLOWERS } from './fault-harness.js';

/** Epochs done according to a checkpoint folder, or undefined when it holds none. */
async function epochsIn(dir: string): Promise<number | undefined> {
  const loaded = await loadCheckpoint<{ epochsDone: number }>(dir);
  if (loaded === undefined) return undefined;

  disposeGroups(loaded.groups);
  return loaded.state.epochsDone;
}

describe('checkpoints under faults', { timeout: 60_000 }, () => {
  let dir: string;
  let tmpfs: string;
  let mounted = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-fault-checkpoint-'));
    tmpfs = join(dir, 'small-disk');
    await mkdir(tmpfs);
    // The 32 px model's checkpoint is about 2.6 MB (weights, Adam's two moments, best
    // weights): 4 MB holds one, not the next one written beside it.
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', tmpfs], { stdio: 'ignore' });
      mounted = true;
    } catch {
      mounted = false;
    }
  });

  after(async () => {
    if (mounted) execFileSync('umount', [tmpfs]);
    await rm(dir, { recursive: true, force: true });
  });

  test('disk full - the trial fails naming the checkpoint, the previous one stays intact',
    { skip: NO_FLOWERS }, async (t) => {
      if (!mounted) {
        t.skip('mounting a tmpfs is not allowed here');
        return;
      }

      const spec = sweepSpecSchema.parse({
        name: 'disk-full',
        dataset: { root: FLOWERS, imageSize: 32, maxPerClass: 2 },
        training: { epochs: 3, batchSize: 10 },
      });
      const config: TrialConfig = { ...spec };
      const runDir = join(tmpfs, 'run');
      const checkpoint = join(runDir, 'checkpoint');

      const error = await trainTrial({ config, runDir }).then(
        () => assert.fail('the trial should fail'),
        (caught: unknown) => caught,
      );

      assert.ok(error instanceof CheckpointWriteError, String(error));
      assert.equal(
        error.message,
        `cannot write the checkpoint ${checkpoint}: no space left on device (ENOSPC); the ` +
          'previous checkpoint is kept',
      );
      assert.equal(error.dir, checkpoint);

      // What the trial process sends the worker: code and retryability survive the trip.
      const sent = serializeError(error);
      assert.equal(sent.code, 'CHECKPOINT_WRITE_FAILED');
      assert.equal(sent.retryable, true);
      assert.match(sent.hint ?? '', /^Free space on the file system of .+ sweep resume/);

      // Epoch 1's checkpoint is whole and loads; the half-written one is gone.
      assert.equal(await epochsIn(checkpoint), 1);
      assert.ok(!existsSync(`${checkpoint}.writing`), 'the partial checkpoint was removed');
    });

  test('checkpoint - a process killed between the renames leaves a checkpoint that loads',
    async () => {
      const checkpoint = join(dir, 'renames', 'checkpoint');
      const weights = [{ name: 'w0', tensor: tf.tensor([1, 2, 3]) }];
      await saveCheckpoint(checkpoint, { epochsDone: 4 }, { model: weights });
      tf.dispose(weights.map((weight) => weight.tensor));

      // saveCheckpoint moves the current one aside, then moves the new one in; a kill in
      // between leaves only `<dir>.previous`.
      await rename(checkpoint, `${checkpoint}.previous`);

      assert.equal(await epochsIn(checkpoint), 4);
    });
});
