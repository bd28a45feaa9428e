/**
 * The sweep and chunk workflows against a real Temporal dev server, with no-op trials: the
 * orchestration alone (concurrency, failure, resume, cancel, attach), no TensorFlow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { NoopTrialEvent } from '../../activities/noop.js';
import {
  cancelSweep,
  readSweepStatus,
  resumeSweep,
  startSweep,
  type SweepStatusView,
} from '../../temporal/sweeps.js';
import { createSweepWorker } from '../../workers/worker.js';
import type { SweepResult } from '../../workflows/types.js';
import {
  maxOverlap,
  noopRequest,
  startTestTemporal,
  testMemo,
  withWorker,
  type TestTemporal,
} from './temporal-harness.js';

describe('sweep workflow on a real dev server', { timeout: 240_000 }, () => {
  let temporal: TestTemporal;

  before(async () => {
    temporal = await startTestTemporal();
  });

  after(async () => {
    await temporal?.close();
  });

  async function noopWorker(
    taskQueue: string,
    durationMs: number | ((index: number) => number),
    events: NoopTrialEvent[],
    slots = 8,
  ) {
    const durationOf = typeof durationMs === 'number' ? () => durationMs : durationMs;
    return createSweepWorker({
      connection: temporal.native,
      namespace: 'default',
      taskQueue,
      trials: {
        stateDir: temporal.stateDir,
        kind: 'noop',
        slots,
        heartbeatIntervalMs: 200,
        noop: { durationMs: durationOf, onEvent: (event) => events.push(event) },
      },
    });
  }

  function result(sweepId: string): Promise<SweepResult> {
    return temporal.client.workflow.getHandle(sweepId).result() as Promise<SweepResult>;
  }

  async function waitForStatus(
    sweepId: string,
    done: (view: SweepStatusView) => boolean,
    timeoutMs = 20_000,
  ): Promise<SweepStatusView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const view = await readSweepStatus(temporal.client, sweepId);
      if (done(view)) return view;
      if (Date.now() > deadline) {
        throw new Error(`status never matched: ${JSON.stringify(view.counts)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Most no-op trials that ran at the same time. */
  function maxOverlapOf(events: NoopTrialEvent[]): number {
    const intervals = events
      .filter((e) => e.type === 'start')
      .map((start) => ({
        startMs: start.atMs,
        stopMs: events.find((e) => e.type === 'stop' && e.trialId === start.trialId)?.atMs ?? 0,
      }));
    return maxOverlap(intervals);
  }

  function startsOf(events: NoopTrialEvent[], trialIndex: number): number {
    return events.filter((e) => e.type === 'start' && e.trialIndex === trialIndex).length;
  }

  test('sweep - runs 4 no-op trials to done, never more than concurrency at once', async () => {
    const events: NoopTrialEvent[] = [];
    const request = noopRequest('four', 4, { taskQueue: 'q-four', concurrency: 2 });
    // Long enough that the second trial starts while the first still runs, even on a slow
    // machine: the overlap check below needs them side by side.
    const worker = await noopWorker('q-four', 2000, events);

    const final = await withWorker(worker, async () => {
      await startSweep(temporal.client, request, testMemo('four', 4));
      return result('four');
    }, 60_000);

    assert.deepEqual(final.counts, { queued: 0, running: 0, done: 4, failed: 0, cancelled: 0 });
    assert.deepEqual(final.trials.map((row) => row.attempts), [1, 1, 1, 1]);
    assert.deepEqual(final.trials.map((row) => row.epoch), [1, 1, 1, 1]);

    assert.equal(events.filter((e) => e.type === 'start').length, 4);
    assert.equal(maxOverlapOf(events), 2, 'two trials ran side by side, never three');
  });

  test('sweep - resume re-runs only the failed trial; done trials never retrain', async () => {
    const events: NoopTrialEvent[] = [];
    const request = noopRequest('flaky', 3, { taskQueue: 'q-flaky', failTrials: [1] });
    const worker = await noopWorker('q-flaky', 50, events);

    await withWorker(worker, async () => {
      await startSweep(temporal.client, request, testMemo('flaky', 3));
      const first = await result('flaky');

      assert.deepEqual(first.trials.map((row) => row.state), ['done', 'failed', 'done']);
      assert.equal(
        first.trials[1]?.error,
        'TEST_ONLY_FAILURE: trial 1 failed on purpose on its first attempt ' +
          '(execution.testOnly.failTrials)',
      );

      const resumed = await resumeSweep(temporal.client, 'flaky');
      assert.deepEqual(resumed, { mode: 'restarted', requeued: 1 });

      const second = await result('flaky');
      assert.deepEqual(second.counts.done, 3);
      assert.deepEqual(second.trials.map((row) => row.attempts), [1, 2, 1]);
    }, 60_000);

    assert.equal(startsOf(events, 0), 1);
    assert.equal(startsOf(events, 1), 1, 'the failing first attempt throws before starting');
    assert.equal(startsOf(events, 2), 1);
  });

  test('sweep - resume while running re-queues the failed trial in its chunk', async () => {
    const events: NoopTrialEvent[] = [];
    const request = noopRequest('live', 2, { taskQueue: 'q-live', failTrials: [0] });
    // Trial 1 runs long enough for the resume to land while the sweep still runs.
    const worker = await noopWorker('q-live', (index) => (index === 1 ? 12_000 : 50), events);

    const final = await withWorker(worker, async () => {
      await startSweep(temporal.client, request, testMemo('live', 2));
      await waitForStatus('live', (view) => view.counts.failed === 1);

      const resumed = await resumeSweep(temporal.client, 'live');
      assert.deepEqual(resumed, { mode: 'update', result: { trials: 0, chunks: 1 } });
      return result('live');
    }, 60_000);

    assert.deepEqual(final.trials.map((row) => row.state), ['done', 'done']);
    assert.deepEqual(final.trials.map((row) => row.attempts), [2, 1]);
  });

  test('sweep - cancel stops running trials within a heartbeat; they end cancelled', async () => {
    const events: NoopTrialEvent[] = [];
    const request = noopRequest('stop', 4, { taskQueue: 'q-stop', concurrency: 2 });
    const worker = await noopWorker('q-stop', 60_000, events);

    const { final, cancelMs, running } = await withWorker(worker, async () => {
      await startSweep(temporal.client, request, testMemo('stop', 4));
      const view = await waitForStatus('stop', (v) => v.counts.running === 2);

      const cancelAtMs = Date.now();
      const answer = await cancelSweep(temporal.client, 'stop');
      assert.deepEqual(answer, { queued: 2, chunks: 1 });

      const done = await result('stop');
      return { final: done, cancelMs: Date.now() - cancelAtMs, running: view };
    }, 60_000);

    assert.deepEqual(running.counts, {
      queued: 2,
      waiting: 0,
      running: 2,
      done: 0,
      failed: 0,
      cancelled: 0,
    });
    assert.deepEqual(
      running.trials.filter((row) => row.state === 'running').map((row) => row.attempts),
      [1, 1],
    );

    assert.deepEqual(final.counts, { queued: 0, running: 0, done: 0, failed: 0, cancelled: 4 });
    assert.deepEqual(final.trials.map((row) => row.error), [
      'cancelled while running',
      'cancelled while running',
      'cancelled before it started',
      'cancelled before it started',
    ]);
    // Heartbeats reach the server about every 2 s; the trials run 60 s if not stopped.
    assert.ok(cancelMs < 10_000, `cancel took ${cancelMs} ms`);
    assert.equal(events.filter((e) => e.type === 'stop').length, 2);
  });

  test('sweep - a trial handed out beyond the workers\' slots reads waiting, not running',
    async () => {
      const events: NoopTrialEvent[] = [];
      const request = noopRequest('narrow', 3, { taskQueue: 'q-narrow', concurrency: 2 });
      // One slot for a concurrency of 2: the second trial's activity waits for the slot.
      const worker = await noopWorker('q-narrow', 3000, events, 1);

      const { waiting, final } = await withWorker(worker, async () => {
        await startSweep(temporal.client, request, testMemo('narrow', 3));
        const view = await waitForStatus(
          'narrow',
          (v) => v.counts.running === 1 && v.counts.waiting === 1,
        );
        return { waiting: view, final: await result('narrow') };
      }, 60_000);

      // Seen while trial 0 or 1 runs; the third is queued or done by then.
      assert.equal(waiting.counts.queued + waiting.counts.done, 1, JSON.stringify(waiting.counts));
      const row = waiting.trials.find((one) => one.state === 'waiting');
      assert.equal(row?.waitingFor, 'worker');
      assert.equal(row?.attempts, 0, 'a waiting first attempt has not run');
      assert.equal(maxOverlapOf(events), 1, 'the one slot ran one trial at a time');
      assert.deepEqual(final.counts, { queued: 0, running: 0, done: 3, failed: 0, cancelled: 0 });
    });

  test('sweep - starting the same sweep twice gives one workflow', async () => {
    const events: NoopTrialEvent[] = [];
    const request = noopRequest('twice', 2, { taskQueue: 'q-twice' });

    const [first, second] = await Promise.all([
      startSweep(temporal.client, request, testMemo('twice', 2)),
      startSweep(temporal.client, request, testMemo('twice', 2)),
    ]);
    assert.ok(['started', 'attached'].includes(first.outcome));
    assert.ok(['started', 'attached'].includes(second.outcome));

    const again = await startSweep(temporal.client, request, testMemo('twice', 2));
    assert.equal(again.outcome, 'attached');

    const worker = await noopWorker('q-twice', 10, events);
    await withWorker(worker, () => result('twice'), 60_000);

    const runs = [];
    for await (const run of temporal.client.workflow.list({ query: `WorkflowId = 'twice'` })) {
      runs.push(run.runId);
    }
    assert.equal(runs.length, 1);
    assert.equal(events.filter((e) => e.type === 'start').length, 2);

    const closed = await startSweep(temporal.client, request, testMemo('twice', 2));
    assert.equal(closed.outcome, 'closed');
  });
});
