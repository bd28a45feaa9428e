/**
 * The no-op trial: returns at once (or after a set delay) without TensorFlow or a child
 * process. Tests and the 2,000-trial scale check use it to exercise the orchestration alone.
 */
import type { TrialActivityInput, TrialOutcome } from '../workflows/types.js';

/** Something the no-op trial did, for tests that check overlap and order. */
export interface NoopTrialEvent {
  type: 'start' | 'stop';
  trialId: string;
  trialIndex: number;
  /** Activity attempt (1-based, within this run of the trial). */
  attempt: number;
  /** `Date.now()` when it happened. */
  atMs: number;
}

/** Options of the no-op trial kind. */
export interface NoopTrialOptions {
  /**
   * How long each trial "runs", in milliseconds (or a function of the trial index); default
   * 0. Cancellation cuts it short.
   */
  durationMs?: number | ((trialIndex: number) => number);
  /** Called when a trial starts and when it stops (also when cancelled or failed). */
  onEvent?: (event: NoopTrialEvent) => void;
}

/**
 * Pretends to train: waits `durationMs` (rejecting at once when `signal` aborts) and returns
 * a summary whose accuracy is a fixed function of the trial id, so reports have something to
 * rank. Reports one epoch through `onEpoch` before it returns.
 */
export async function runNoopTrial(
  input: TrialActivityInput,
  context: { attempt: number; runDir: string; signal: AbortSignal },
  options: NoopTrialOptions,
  onEpoch: (epoch: number, valAccuracy: number) => void,
): Promise<TrialOutcome> {
  const startedAtMs = Date.now();
  const event = (type: NoopTrialEvent['type']): void =>
    options.onEvent?.({
      type,
      trialId: input.trialId,
      trialIndex: input.trialIndex,
      attempt: context.attempt,
      atMs: Date.now(),
    });

  event('start');
  try {
    const durationMs =
      typeof options.durationMs === 'function'
        ? options.durationMs(input.trialIndex)
        : (options.durationMs ?? 0);
    await delay(durationMs, context.signal);

    const accuracy = pseudoAccuracy(input.trialId);
    onEpoch(1, accuracy);

    return {
      epochsRun: 1,
      bestEpoch: 1,
      bestValAccuracy: accuracy,
      testAccuracy: accuracy,
      testLoss: 1 - accuracy,
      stoppedEarly: false,
      durationMs: Date.now() - startedAtMs,
      attempt: context.attempt,
      runDir: context.runDir,
    };
  } finally {
    event('stop');
  }
}

/** A stable number in [0.2, 0.9) from a string (FNV-1a), standing in for an accuracy. */
export function pseudoAccuracy(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 0.2 + (hash % 7000) / 10_000;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);

    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
