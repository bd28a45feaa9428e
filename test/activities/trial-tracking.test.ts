/**
 * The trial and sweep activities with MLflow and Prometheus metrics wired in: a real MLflow
 * server, a fake trainer over IPC, a mock activity context. Each way a trial ends leaves its
 * child run in the matching state and counts under the matching outcome.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';

import { createSweepActivities } from '../../activities/sweep-run.js';
import { createTrialActivities, trialRunDir } from '../../activities/trial.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../metrics/worker-metrics.js';
import type { PlannedTrial } from '../../spec/plan.js';
import { MlflowClient, tagFilter, type Run } from '../../tracking/client.js';
import { SweepRecorder } from '../../tracking/sweep-run.js';
import { TAGS } from '../../tracking/tags.js';
import type {
  SweepTrackingRef,
  TrialActivityInput,
  TrialOutcome,
} from '../../workflows/types.js';
import { parseExposition, valueOf } from '../metrics/helpers.js';
import { silentLogger, startTestServer } from '../tracking/helpers.js';
import { fakeRunFolder, storedSteps, tinySweep } from '../tracking/recording-helpers.js';

const FAKE_ENTRY = fileURLToPath(new URL('./fixtures/fake-trainer-entry.ts', import.meta.url));

describe('trial activity with MLflow and metrics', { timeout: 180_000 }, () => {
  let stateDir: string;
  let dispose: () => Promise<void>;
  let client: MlflowClient;
  let ref: SweepTrackingRef;
  let trials: PlannedTrial[];

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'sweep-trial-tracking-'));
    const started = await startTestServer();
    dispose = started.dispose;
    client = new MlflowClient({ trackingUri: started.server.url, logger: silentLogger });

    const { loaded, plan } = await tinySweep(stateDir, 'trial-tracking');
    trials = plan.trials;
    const recorder = await SweepRecorder.start({
      client,
      plan,
      spec: loaded,
      gitCommit: null,
      logger: silentLogger,
    });
    ref = recorder.ref;
  });

  after(async () => {
    await dispose?.();
    await rm(stateDir, { recursive: true, force: true });
  });

  function input(index: number, trialId: string): TrialActivityInput {
    const trial = trials[index]!;
    return {
      sweepId: ref.sweepId,
      trialId,
      trialIndex: index,
      trialName: `${trial.name} (${trialId})`,
      config: trial.config,
      priorAttempts: 0,
      failFirstAttempt: false,
      tracking: { experimentId: ref.experimentId, parentRunId: ref.parentRunId },
    };
  }

  function activities(
    mode: string,
    options: { metrics?: WorkerMetrics; gpus?: string[]; tracked?: boolean } = {},
  ) {
    process.env.FAKE_TRAINER_MODE = mode;
    return createTrialActivities({
      stateDir,
      entryScript: FAKE_ENTRY,
      slots: 1,
      threadsPerTrial: 1,
      heartbeatIntervalMs: 50,
      killGraceMs: 500,
      tracking: options.tracked === false ? null : client,
      metrics: options.metrics ?? null,
      workerHost: 'test-host',
      ...(options.gpus === undefined ? {} : { gpus: options.gpus }),
    });
  }

  async function trialRun(trialId: string): Promise<Run> {
    const [run, ...others] = await client.searchRuns({
      experimentIds: [ref.experimentId],
      filter: tagFilter(TAGS.trialId, trialId),
    });
    assert.equal(others.length, 0, `one run for trial ${trialId}`);
    assert.ok(run !== undefined, `a run for trial ${trialId}`);
    return run;
  }

  async function scrape(metrics: WorkerMetrics) {
    return parseExposition(await metrics.registry.metrics());
  }

  test('trial activity - records a child run: tags, one value per epoch, files, FINISHED',
    async () => {
      const metrics = createWorkerMetrics({ workerId: 'w1', defaultMetrics: false });
      metrics.setSlots(1, 0);
      await fakeRunFolder(trialRunDir(stateDir, ref.sweepId, 'ok'), 2);

      const env = new MockActivityEnvironment({ attempt: 1 });
      const runTrial = activities('ok', { metrics }).runTrial;
      const outcome = (await env.run(runTrial, input(0, 'ok'))) as TrialOutcome;
      assert.equal(outcome.bestValAccuracy, 0.7);

      const run = await trialRun('ok');
      assert.equal(run.info.status, 'FINISHED');
      assert.equal(run.tags[TAGS.parentRunId], ref.parentRunId);
      assert.equal(run.tags[TAGS.attempt], '1');
      assert.equal(run.tags[TAGS.workerHost], 'test-host');
      assert.equal(run.tags[TAGS.backend], 'tensorflow');
      assert.equal(run.tags[TAGS.device], 'cpu');
      assert.equal(run.params['model.attention'], 'none');
      for (const key of ['loss', 'val_accuracy', 'epoch_seconds', 'images_per_second']) {
        assert.deepEqual(await storedSteps(client, run.info.runId, key), [1, 2], key);
      }
      assert.deepEqual(await storedSteps(client, run.info.runId, 'test_accuracy'), [0]);
      const files = await client.listArtifacts(run.info.runId, '', { recursive: true });
      assert.ok(files.some((entry) => entry.path === 'model/model.json'));

      const samples = await scrape(metrics);
      const sweep = ref.sweepId;
      assert.equal(valueOf(samples, 'sweep_trials_started_total', { sweep }), 1);
      assert.equal(
        valueOf(samples, 'sweep_trials_finished_total', { sweep, outcome: 'succeeded' }),
        1,
      );
      assert.equal(valueOf(samples, 'sweep_trials_running', { sweep }), 0);
      assert.equal(valueOf(samples, 'sweep_epoch_duration_seconds_count', { sweep }), 2);
      assert.equal(valueOf(samples, 'sweep_best_val_accuracy_ratio', { sweep }), 0.7);
      assert.equal(valueOf(samples, 'sweep_worker_slots_free'), 1);
    });

  test('trial activity - a GPU slot is recorded as its device', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    await env.run(activities('ok', { gpus: ['3'] }).runTrial, input(1, 'on-gpu'));

    const run = await trialRun('on-gpu');
    assert.equal(run.tags[TAGS.device], 'gpu:3');
  });

  test('trial activity - a diverged trial ends its run FAILED with the reason', async () => {
    const metrics = createWorkerMetrics({ workerId: 'w2', defaultMetrics: false });
    const env = new MockActivityEnvironment({ attempt: 1 });
    const error = await env
      .run(activities('diverge', { metrics }).runTrial, input(0, 'nan'))
      .catch((e: unknown) => e);

    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'TRIAL_DIVERGED');
    const run = await trialRun('nan');
    assert.equal(run.info.status, 'FAILED');
    assert.equal(run.tags[TAGS.failedAttempt], '1');
    assert.equal(
      run.tags[TAGS.failureReason],
      'TrialFailedError: trial nan failed: training diverged: loss became NaN at epoch 1, ' +
        'batch 3',
    );

    const samples = await scrape(metrics);
    const labels = { sweep: ref.sweepId, outcome: 'failed' };
    assert.equal(valueOf(samples, 'sweep_trials_finished_total', labels), 1);
  });

  test('trial activity - a cancelled trial ends its run KILLED; tensor memory while it ran',
    async () => {
      const metrics = createWorkerMetrics({ workerId: 'w3', defaultMetrics: false });
      metrics.setSlots(1, 0);
      const env = new MockActivityEnvironment({ attempt: 1 });
      let epochs = 0;
      env.on('heartbeat', (details: { epoch: number }) => (epochs = details.epoch));

      const running = env.run(activities('hang', { metrics }).runTrial, input(1, 'stop'));
      while (epochs === 0) await new Promise((resolve) => setTimeout(resolve, 20));

      const during = await scrape(metrics);
      assert.equal(valueOf(during, 'sweep_tensor_bytes', { process: 'trials' }), 4096);
      assert.equal(valueOf(during, 'sweep_live_tensors', { process: 'trials' }), 42);
      assert.equal(valueOf(during, 'sweep_training_images_per_second', { slot: '0' }), 100);
      assert.equal(valueOf(during, 'sweep_worker_slots_free'), 0);

      env.cancel('CANCELLED');
      const error = await running.catch((e: unknown) => e);
      assert.ok(error instanceof CancelledFailure);

      const run = await trialRun('stop');
      assert.equal(run.info.status, 'KILLED');
      assert.deepEqual(await storedSteps(client, run.info.runId, 'val_accuracy'), [1]);

      const after = await scrape(metrics);
      const labels = { sweep: ref.sweepId, outcome: 'cancelled' };
      assert.equal(valueOf(after, 'sweep_trials_finished_total', labels), 1);
      assert.equal(valueOf(after, 'sweep_tensor_bytes', { process: 'trials' }), 0);
      assert.equal(valueOf(after, 'sweep_worker_slots_free'), 1);
    });

  test('trial activity - a tracked trial on a worker without MLflow fails, retryable',
    async () => {
      const env = new MockActivityEnvironment({ attempt: 1 });
      const error = await env
        .run(activities('ok', { tracked: false }).runTrial, input(0, 'untracked'))
        .catch((e: unknown) => e);

      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'TRACKING_NOT_CONFIGURED');
      assert.equal(error.nonRetryable, false);
      assert.equal(
        error.message,
        `sweep ${ref.sweepId} records its trials in MLflow, but worker test-host has no ` +
          'MLflow server configured',
      );
    });

  test('sweep activities - finishSweepRun ends the parent run; reopenSweepRun reopens it',
    async () => {
      const sweep = createSweepActivities({ tracking: client });
      const env = new MockActivityEnvironment({ attempt: 1 });
      const rows = [
        { id: 'ok', state: 'done' as const, bestValAccuracy: 0.7, testAccuracy: 0.65 },
        { id: 'nan', state: 'failed' as const, bestValAccuracy: null, testAccuracy: null },
      ].map((row, index) => ({
        ...row,
        name: trials[index]!.name,
        values: trials[index]!.values,
        epoch: 2,
      }));

      const result = await env.run(sweep.finishSweepRun, {
        tracking: ref,
        trials: rows,
        status: 'FAILED' as const,
      });
      assert.deepEqual(result, { bestTrialId: 'ok', modelVersion: 'trial-tracking/1' });
      assert.equal((await client.getRun(ref.parentRunId)).info.status, 'FAILED');

      await env.run(sweep.reopenSweepRun, ref);
      assert.equal((await client.getRun(ref.parentRunId)).info.status, 'RUNNING');

      const offline = createSweepActivities({ tracking: null });
      const error = await env.run(offline.finishSweepRun, {
        tracking: ref,
        trials: rows,
        status: 'FINISHED' as const,
      }).catch((e: unknown) => e);
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'TRACKING_NOT_CONFIGURED');
      assert.equal(error.nonRetryable, false);
    });
});
