/**
 * The `outcome` label of a failed trial attempt, read from the error the trial activity
 * throws to Temporal (after activities/trial.ts has mapped its own errors).
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

import type { TrialOutcomeLabel } from './worker-metrics.js';

/** ApplicationFailure type of a trial given back because its worker shut down. */
export const HANDED_BACK_FAILURE_TYPE = 'TRIAL_HANDED_BACK';

/**
 * Which outcome a failed attempt counts as:
 * - `CancelledFailure`: `cancelled`;
 * - ApplicationFailure of type `TRIAL_HANDED_BACK`: `handed_back`;
 * - ApplicationFailure with `nonRetryable`: `failed`;
 * - anything else: `retried`, since Temporal retries it (unless the retry policy's attempts
 *   are spent, which the activity cannot see).
 */
export function trialOutcomeOf(error: unknown): TrialOutcomeLabel {
  if (error instanceof CancelledFailure) return 'cancelled';

  if (error instanceof ApplicationFailure) {
    if (error.type === HANDED_BACK_FAILURE_TYPE) return 'handed_back';
    if (error.nonRetryable === true) return 'failed';
  }
  return 'retried';
}
