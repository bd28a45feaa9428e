/**
 * Test-only knobs of a trial (`config.testOnly`, filled from the spec's `execution.testOnly`
 * by `temporal/sweeps.ts`; absent in real sweeps). Fault tests use them to make a trial slow
 * enough to interrupt, or to make its process die the ways real processes die.
 */
import { logger } from '../lib/logger.js';
import type { TrialTestKnobs } from '../spec/schema.js';

/**
 * Blocks the thread for `knobs.slowBatchMs` milliseconds, as a compute-bound batch does: no
 * timer, signal handler or IPC message is handled meanwhile. Does nothing without the knob.
 */
export function blockAfterBatch(knobs: TrialTestKnobs | undefined): void {
  const ms = knobs?.slowBatchMs ?? 0;
  if (ms <= 0) return;

  // Atomics.wait sleeps synchronously without keeping a core busy (the tests share 2 cores).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Ends the process the way `knobs.crash.how` says once the checkpoint of epoch
 * `knobs.crash.afterEpoch` is on disk, unless the trial resumed from that epoch or a later
 * one, so the retry that resumes from the checkpoint runs to the end:
 * - `abort`: `process.abort()`, a native crash (SIGABRT);
 * - `oom`: SIGKILL to itself, what the kernel's out-of-memory killer sends;
 * - `exit`: exit code 1 without a result.
 *
 * @param epochsDone epochs finished, the one just checkpointed included (1-based count).
 * @param resumedFromEpoch epochs the checkpoint held when this process started.
 */
export function crashAfterCheckpoint(
  knobs: TrialTestKnobs | undefined,
  epochsDone: number,
  resumedFromEpoch: number,
): void {
  const crash = knobs?.crash;
  if (crash === undefined || epochsDone !== crash.afterEpoch) return;
  if (resumedFromEpoch >= crash.afterEpoch) return;

  logger.warn({ how: crash.how, epoch: epochsDone }, 'trial process crashing (testOnly knob)');
  if (crash.how === 'abort') process.abort();
  if (crash.how === 'oom') process.kill(process.pid, 'SIGKILL');
  process.exit(1);
}
