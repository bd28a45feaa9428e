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
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, 'tensors.bin'), Buffer.concat(chunks));
  await writeFile(join(staging, 'state.json'), JSON.stringify(file));

  const previous = `${dir}.previous`;
  await rm(previous, { recursive: true, force: true });
  await rename(dir, previous).catch(ignoreMissing);
  await rename(staging, dir);
  await rm(previous, { recursive: true, force: true });
}

/** A loaded checkpoint. The caller owns (and must dispose) the tensors. */
export interface LoadedCheckpoint<State> {
  state: State;
  groups: TensorGroups;
}

/** Reads a checkpoint, or returns undefined when the folder holds none. */
export async function loadCheckpoint<State>(
  dir: string,
): Promise<LoadedCheckpoint<State> | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'state.json'), 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }

  const file = JSON.parse(text) as CheckpointFile<State>;
  const bytes = await readFile(join(dir, 'tensors.bin'));
  const groups: TensorGroups = {};

  for (const entry of file.tensors) {
    // Copy into an aligned buffer: a Buffer's byteOffset need not be a multiple of 4.
    const values = new Float32Array(entry.length);
    new Uint8Array(values.buffer).set(bytes.subarray(entry.offset, entry.offset + entry.length * 4));
    const tensor: Tensor = tf.tensor(values, entry.shape, 'float32');
    (groups[entry.group] ??= []).push({ name: entry.name, tensor });
  }
  return { state: file.state, groups };
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

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}
