/**
 * Scale: a 2,000-trial sweep of no-op trials on a real dev server. Proves the chunked design
 * stays inside Temporal's history and pending-activity limits and finishes in minutes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startSweep } from '../../temporal/sweeps.js';
import { createSweepWorker } from '../../workers/worker.js';
import type { SweepResult } from '../../workflows/types.js';
import {
  noopRequest,
  startTestTemporal,
  testMemo,
  withWorker,
  type TestTemporal,
} from './temporal-harness.js';

const TRIALS = 2000;
const CONCURRENCY = 50;

describe('sweep workflow at scale', { timeout: 420_000 }, () => {
  let temporal: TestTemporal;

  before(async () => {
    temporal = await startTestTemporal();
  });

  after(async () => {
    await temporal?.close();
  });

  test('scale - 2,000 no-op trials finish, each once, in a few minutes', async (t) => {
    const startedIds: string[] = [];
    let running = 0;
    let mostRunning = 0;

    const worker = await createSweepWorker({
      connection: temporal.native,
      namespace: 'default',
      taskQueue: 'q-scale',
      trials: {
        stateDir: temporal.stateDir,
        kind: 'noop',
        slots: CONCURRENCY,
        noop: {
          onEvent: (event) => {
            running += event.type === 'start' ? 1 : -1;
            if (event.type === 'start') startedIds.push(event.trialId);
            mostRunning = Math.max(mostRunning, running);
          },
        },
      },
    });

    const request = noopRequest('scale', TRIALS, {
      taskQueue: 'q-scale',
      concurrency: CONCURRENCY,
    });
    const startedAtMs = Date.now();

    const result = await withWorker(worker, async () => {
      await startSweep(temporal.client, request, testMemo('scale', TRIALS));
      return temporal.client.workflow.getHandle('scale').result() as Promise<SweepResult>;
    }, 360_000);

    const seconds = (Date.now() - startedAtMs) / 1000;
    t.diagnostic(`2,000 trials in ${seconds.toFixed(1)} s (${(TRIALS / seconds).toFixed(1)}/s)`);

    const notDone = result.trials.filter((row) => row.state !== 'done');
    assert.deepEqual(notDone, []);
    assert.equal(result.counts.done, TRIALS);
    const ids = request.trials.map((trial) => trial.id);
    const missing = ids.filter((id) => !startedIds.includes(id));
    assert.deepEqual(missing, [], 'every trial ran');
    assert.equal(startedIds.length, TRIALS, 'every trial ran exactly once');
    assert.ok(mostRunning <= CONCURRENCY, `${mostRunning} trials ran at once`);

    const parent = await temporal.client.workflow.getHandle('scale').describe();
    t.diagnostic(`parent history: ${parent.historyLength} events`);
    assert.ok(parent.historyLength < 1000, `parent history has ${parent.historyLength} events`);
  });
});
