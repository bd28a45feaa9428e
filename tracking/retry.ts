/**
 * Retry policy for calls to the MLflow server: exponential backoff with jitter, bounded both
 * in attempts and in total time.
 */
import { ConfigError } from '../lib/errors.js';

/** How a failed request is retried. Only network errors, timeouts and 5xx/429/408 retry. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. Default 6. */
  maxAttempts: number;

  /** Delay before the first retry, in ms, before jitter. Default 250. */
  initialDelayMs: number;

  /** Cap on one delay, in ms, before jitter. Default 8000. */
  maxDelayMs: number;

  /**
   * Budget for all attempts and delays together, in ms. No retry starts once its delay would
   * end past the budget. Default 60000.
   */
  totalTimeoutMs: number;
}

/** The policy used when a caller gives none. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 6,
  initialDelayMs: 250,
  maxDelayMs: 8000,
  totalTimeoutMs: 60_000,
});

/**
 * Fills a partial policy from the defaults and checks it.
 *
 * @throws ConfigError naming the field, the constraint and the value received.
 */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...partial };

  const problems: string[] = [];
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    problems.push(`maxAttempts must be an integer >= 1, got ${policy.maxAttempts}`);
  }
  for (const field of ['initialDelayMs', 'maxDelayMs', 'totalTimeoutMs'] as const) {
    if (!Number.isFinite(policy[field]) || policy[field] < 0) {
      problems.push(`${field} must be a finite number >= 0, got ${policy[field]}`);
    }
  }

  if (problems.length > 0) {
    throw new ConfigError(`invalid MLflow retry policy: ${problems.join('; ')}`, {
      hint: 'Fix the retry options passed to the MLflow client.',
    });
  }
  return policy;
}

/**
 * Delay before retry number `retry` (0 for the first retry): `initialDelayMs * 2^retry`,
 * capped at `maxDelayMs`, then scaled by a random factor in [0.5, 1) so that workers that
 * failed together do not retry together.
 */
export function backoffDelayMs(
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  retry: number,
  random: () => number = Math.random,
): number {
  const exponential = policy.initialDelayMs * 2 ** Math.min(retry, 30);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped * (0.5 + random() / 2));
}

/** Resolves after `ms`; the timer does not keep the process alive on its own if `unref`. */
export function sleep(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (options.unref === true) {
      timer.unref();
    }
  });
}
