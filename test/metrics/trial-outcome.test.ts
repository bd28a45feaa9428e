import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ApplicationFailure, CancelledFailure } from '@temporalio/common';

import { trialOutcomeOf } from '../../metrics/trial-outcome.js';

describe('trialOutcomeOf', () => {
  test('counts a cancellation as cancelled', () => {
    assert.equal(trialOutcomeOf(new CancelledFailure('trial cancelled')), 'cancelled');
  });

  test('counts a trial given back by a stopping worker as handed_back', () => {
    const failure = ApplicationFailure.create({
      type: 'TRIAL_HANDED_BACK',
      message: 'the worker shut down; the next attempt resumes from the last checkpoint',
    });
    assert.equal(trialOutcomeOf(failure), 'handed_back');
  });

  test('counts a non-retryable failure as failed and a retryable one as retried', () => {
    const diverged = ApplicationFailure.create({
      type: 'TRIAL_DIVERGED',
      message: 'training diverged',
      nonRetryable: true,
    });
    const crashed = ApplicationFailure.create({
      type: 'TRIAL_PROCESS_CRASHED',
      message: 'its process was killed by SIGKILL',
    });

    assert.equal(trialOutcomeOf(diverged), 'failed');
    assert.equal(trialOutcomeOf(crashed), 'retried');
  });

  test('counts any other error as retried, as Temporal retries it', () => {
    assert.equal(trialOutcomeOf(new Error('ECONNRESET')), 'retried');
    assert.equal(trialOutcomeOf('not even an error'), 'retried');
  });
});
