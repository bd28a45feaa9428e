/**
 * Epoch checkpoints: everything a trial needs to continue exactly where it stopped (weights,
 * optimizer state, callback state, history, best weights so far), written atomically after
 * every epoch so a killed worker loses at most the epoch in progress.
 *
 * Layout of `<runDir>/checkpoint/`:
 * - `state.json`: the JSON state plus a manifest of every tensor (name, shape, byte offset);
 * - `tensors.bin`: the float32 tensors, back to back.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { Tensor } from '@tensorflow/tfjs-node';

import { SweepError } from '../lib/errors.js';
import { tf } from '../lib/tf.js';
import { CHECKPOINT_DIR } from './run-files.js';

/** A tensor with a name, as optimizers' `getWeights()` return them. */
export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

/** Named float32 tensors to store, grouped (e.g. `model`, `optimizer`, `bestWeights`). */
export type TensorGroups = Record<string, NamedTensor[]>;

interface TensorEntry {
  group: string;
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

interface CheckpointFile<State> {
  version: 1;
  state: State;
  tensors: TensorEntry[];
}

/** Folder of the checkpoint inside a run folder. */
export function checkpointDir(runDir: string): string {
  return join(runDir, CHECKPOINT_DIR);
}

/**
 * Writes a checkpoint. The new one replaces the old only once fully written (write to a
 * sibling folder, then rename), so a crash mid-write leaves the previous epoch's checkpoint.
 */
export async function saveCheckpoint<State>(
  dir: string,
  state: State,
  groups: TensorGroups,
): Promise<void> {
  const entries: TensorEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;

  for (const [group, tensors] of Object.entries(groups)) {
    for (const { name, tensor } of tensors) {
      const values = await tensor.data<'float32'>();
      const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      entries.push({ group, name, shape: tensor.shape, offset, length: values.length });
      chunks.push(bytes);
      offset += bytes.byteLength;
    }
  }

  const file: CheckpointFile<State> = { version: 1, state, tensors: entries };
  const staging = `${dir}.writing`;
  try {
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'tensors.bin'), Buffer.concat(chunks));
    await writeFile(join(staging, 'state.json'), JSON.stringify(file));
  } catch (error) {
    // Give the space back; the previous checkpoint in `dir` was not touched.
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw new CheckpointWriteError(dir, error);
  }

  const previous = `${dir}.previous`;
  await rm(previous, { recursive: true, force: true });
  await rename(dir, previous).catch(ignoreMissing);
  await rename(staging, dir);
  await rm(previous, { recursive: true, force: true });
}

/**
 * A checkpoint could not be written (disk full, permissions, I/O error). The previous
 * checkpoint stays as it was. Retryable: the next attempt resumes from that checkpoint, once
 * the disk has room (on this worker or another).
 */
export class CheckpointWriteError extends SweepError {
  /** The checkpoint folder that was to be replaced. */
  readonly dir: string;

  constructor(dir: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = code === 'ENOSPC' ? 'no space left on device (ENOSPC)' : describe(cause);

    super(`cannot write the checkpoint ${dir}: ${reason}; the previous checkpoint is kept`, {
      code: 'CHECKPOINT_WRITE_FAILED',
      retryable: true,
      hint:
        `Free space on the file system of ${dir} (or fix its permissions), then continue ` +
        'the trial from that checkpoint with: sweep resume <sweep id>',
      cause,
    });
    this.dir = dir;
  }
}

/** A loaded checkpoint. The caller owns (and must dispose) the tensors. */
export interface LoadedCheckpoint<State> {
  state: State;
  groups: TensorGroups;
}

/**
 * Reads a checkpoint, or returns undefined when the folder holds none. A process killed
 * between the two renames of {@link saveCheckpoint} leaves only `<dir>.previous`, complete;
 * that one is read then.
 */
export async function loadCheckpoint<State>(
  dir: string,
): Promise<LoadedCheckpoint<State> | undefined> {
  const found = (await readState(dir)) ?? (await readState(`${dir}.previous`));
  if (found === undefined) return undefined;

  // The tensors come from the same folder as the state.
  const file = JSON.parse(found.text) as CheckpointFile<State>;
  const bytes = await readFile(join(found.dir, 'tensors.bin'));
  const groups: TensorGroups = {};

  for (const entry of file.tensors) {
    // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
    const values = new Float32Array(entry.length);
    const end = entry.offset + entry.length * 4;
    new Uint8Array(values.buffer).set(bytes.subarray(entry.offset, end));
    const tensor: Tensor = tf.tensor(values, entry.shape, 'float32');
    (groups[entry.group] ??= []).push({ name: entry.name, tensor });
  }
  return { state: file.state, groups };
}

/** `state.json` of a checkpoint folder, or undefined when the folder or file is missing. */
async function readState(dir: string): Promise<{ dir: string; text: string } | undefined> {
  try {
    return { dir, text: await readFile(join(dir, 'state.json'), 'utf8') };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Disposes every tensor of the groups. */
export function disposeGroups(groups: TensorGroups): void {
  for (const tensors of Object.values(groups)) {
    for (const { tensor } of tensors) tensor.dispose();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}
