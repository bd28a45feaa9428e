/**
 * How the status table reads a chunk's pending activities: heartbeat progress, the attempt in
 * progress, and `waiting` for a trial whose activity no worker has started.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { defaultPayloadConverter } from '@temporalio/client';

import {
  applyPendingActivities,
  type PendingActivity,
  type TrialViewRow,
} from '../../temporal/sweeps.js';
import { trialActivityId } from '../../workflows/status.js';
import type { TrialProgress } from '../../workflows/types.js';
import { viewRow } from './fixtures.js';

function running(index: number, attempts = 0): TrialViewRow {
  return viewRow(index, { state: 'running', attempts });
}

function activity(index: number, fields: Omit<PendingActivity, 'activityId'>): PendingActivity {
  return { activityId: trialActivityId(`s-t${index}`, 1), ...fields };
}

function heartbeat(progress: TrialProgress): PendingActivity['heartbeatDetails'] {
  return { payloads: [defaultPayloadConverter.toPayload(progress)] };
}

describe('status rows from pending activities', () => {
  test('pending - a started activity stays running with its epoch and attempt', () => {
    const rows = [running(0)];
    applyPendingActivities(rows, [
      activity(0, {
        state: 2,
        attempt: 2,
        heartbeatDetails: heartbeat({ epoch: 4, checkpointDir: '/c', bestValAccuracy: 0.6 }),
      }),
    ]);

    assert.equal(rows[0]?.state, 'running');
    assert.equal(rows[0]?.waitingFor, undefined);
    assert.equal(rows[0]?.epoch, 4);
    assert.equal(rows[0]?.bestValAccuracy, 0.6);
    assert.equal(rows[0]?.attempts, 2);
  });

  test('pending - a scheduled first attempt waits for a worker and has not run', () => {
    const rows = [running(0)];
    applyPendingActivities(rows, [activity(0, { state: 1, attempt: 1 })]);

    assert.deepEqual(
      [rows[0]?.state, rows[0]?.waitingFor, rows[0]?.attempts],
      ['waiting', 'worker', 0],
    );
  });

  test('pending - a scheduled later attempt waits to retry, keeping its progress', () => {
    // A trial resumed once before (1 finished attempt) on its third attempt of this run.
    const rows = [running(0, 1)];
    applyPendingActivities(rows, [
      activity(0, {
        state: 'PENDING_ACTIVITY_STATE_SCHEDULED',
        attempt: 3,
        heartbeatDetails: heartbeat({ epoch: 2, checkpointDir: '/c', bestValAccuracy: 0.4 }),
      }),
    ]);

    assert.deepEqual(
      [rows[0]?.state, rows[0]?.waitingFor, rows[0]?.attempts, rows[0]?.epoch],
      ['waiting', 'retry', 3, 2],
    );
  });

  test('pending - a paused activity waits until unpaused', () => {
    const rows = [running(0)];
    applyPendingActivities(rows, [activity(0, { state: 4, attempt: 1 })]);
    assert.deepEqual([rows[0]?.state, rows[0]?.waitingFor], ['waiting', 'paused']);
  });

  test('pending - a cancel-requested activity stays running until it stops', () => {
    const rows = [running(0)];
    applyPendingActivities(rows, [activity(0, { state: 3, attempt: 1 })]);
    assert.deepEqual([rows[0]?.state, rows[0]?.attempts], ['running', 1]);
  });

  test('pending - a row whose activity the server has not recorded yet waits for a worker', () => {
    const rows = [running(0)];
    applyPendingActivities(rows, []);
    assert.deepEqual(
      [rows[0]?.state, rows[0]?.waitingFor, rows[0]?.attempts],
      ['waiting', 'worker', 0],
    );
  });

});
