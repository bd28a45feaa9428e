/**
 * Shared by the callback tests: epoch logs built from one monitored value, a deterministic
 * noisy metric curve, and the resume check (a callback restored after epoch k must make the
 * same decisions as one fed the whole sequence).
 */
import assert from 'node:assert/strict';

import type { EpochLogs } from '../../training/callbacks/index.js';

/** Logs where every metric is `value`; the callbacks read only their monitor. */
export function logsOf(value: number): EpochLogs {
  return { loss: value, accuracy: value, val_loss: value, val_accuracy: value };
}

/**
 * A val_loss-like curve: falls quickly, then flattens with noise and a few plateaus, so every
 * branch (improvement, patience, cooldown, floor) is exercised. Deterministic.
 */
export function noisyCurve(length: number, seed = 7): number[] {
  let state = seed;
  const values: number[] = [];
  for (let epoch = 0; epoch < length; epoch += 1) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const noise = (state / 2147483648 - 0.5) * 0.08;
    values.push(1.5 * Math.exp(-epoch / 6) + 0.4 + noise);
  }

  return values;
}

/** A callback reduced to what the resume check needs. */
export interface Resumable<Decision> {
  step(epoch: number): Decision;
  state(): unknown;
}

/**
 * Feeds `length` epochs to a fresh callback, and for every k restores one from the state taken
 * after epoch k - 1 (through JSON, as a trial's checkpoint would) and feeds it the rest: every
 * later decision and the final state must match.
 */
export function assertResumesIdentically<Decision>(
  length: number,
  create: () => Resumable<Decision>,
  restore: (state: unknown) => Resumable<Decision>,
): void {
  const whole = create();
  const decisions: Decision[] = [];
  const states: unknown[] = [JSON.parse(JSON.stringify(whole.state()))];
  for (let epoch = 0; epoch < length; epoch += 1) {
    decisions.push(whole.step(epoch));
    states.push(JSON.parse(JSON.stringify(whole.state())));
  }

  for (let k = 0; k <= length; k += 1) {
    const resumed = restore(JSON.parse(JSON.stringify(states[k])));
    for (let epoch = k; epoch < length; epoch += 1) {
      assert.deepEqual(resumed.step(epoch), decisions[epoch], `resumed after ${k}, epoch ${epoch}`);
    }

    assert.deepEqual(resumed.state(), states[length], `final state when resumed after ${k}`);
  }
}
