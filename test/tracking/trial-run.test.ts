import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { loadDataset, type LoadedDataset } from '../../data/dataset.js';
import { SweepError } from '../../lib/errors.js';
import type { LoadedSpec } from '../../spec/load.js';
import type { SweepPlan } from '../../spec/plan.js';
import { MlflowClient, tagFilter } from '../../tracking/client.js';
import { startMlflowServer, type MlflowServer } from '../../tracking/server.js';
import { SweepRecorder } from '../../tracking/sweep-run.js';
import { EPOCH_METRICS, TAGS, TRIAL_SUMMARY_METRICS } from '../../tracking/tags.js';
import {
  failureReason,
  TRIAL_ARTIFACT_FILES,
  TrialRecorder,
  trialParams,
  type RecordedTrial,
} from '../../tracking/trial-run.js';
import { RUN_FILES, trainTrial } from '../../training/trial.js';
import { silentLogger } from './helpers.js';
import { fakeEpoch, fakeRunFolder, sleep, storedSteps, tinySweep } from './recording-helpers.js';

let stateDir: string;
let workDir: string;
let server: MlflowServer;
let client: MlflowClient;
let loaded: LoadedSpec;
let plan: SweepPlan;
let sweep: SweepRecorder;

/** A trial of the tiny sweep under a fresh id, so tests sharing the server do not meet. */
let counter = 0;
function freshTrial(): RecordedTrial {
  counter += 1;
  const base = plan.trials[0]!;
  return { ...base, id: `${plan.sweepId}-tcase${counter}`, name: `${base.name}-case${counter}` };
}

function startTrial(trial: RecordedTrial, attempt: number, extra: object = {}) {
  return TrialRecorder.start({
    client,
    experimentId: sweep.ref.experimentId,
    parentRunId: sweep.ref.parentRunId,
    sweepId: plan.sweepId,
    trial,
    attempt,
    workerHost: `worker-${attempt}`,
    backend: 'tensorflow',
    device: 'cpu',
    logger: silentLogger,
    metricBuffer: { flushIntervalMs: 200 },
    ...extra,
  });
}

describe('trial run', { timeout: 400_000 }, () => {
  before(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), 'sweep-mlflow-'));
    workDir = await mkdtemp(path.join(tmpdir(), 'sweep-trial-run-'));
    server = await startMlflowServer({ stateDir, startTimeoutMs: 120_000 });
    client = new MlflowClient({ trackingUri: server.url, logger: silentLogger });
    ({ loaded, plan } = await tinySweep(workDir, 'trial-run-test'));
    sweep = await SweepRecorder.start({ client, plan, spec: loaded, logger: silentLogger });
  }, { timeout: 150_000 });

  after(async () => {
    await server?.stop();
    await rm(stateDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  test('trial run - a resumed attempt reuses the run and stores every epoch exactly once', {
    timeout: 60_000,
  }, async () => {
    const trial = freshTrial();
    const runDir = path.join(workDir, 'resume');

    // Attempt 1 logs epochs 1-3, then its worker dies.
    const first = await startTrial(trial, 1);
    for (const epoch of [1, 2, 3]) await first.epoch(fakeEpoch(epoch));
    await first.flush(30_000);

    // Attempt 2 resumes from epoch 2's checkpoint: it trains epoch 3 again, then 4 and 5.
    const second = await startTrial(trial, 2, { device: 'gpu:0' });
    for (const epoch of [3, 4, 5]) await second.epoch(fakeEpoch(epoch, 0.01));
    await fakeRunFolder(runDir, 5, 0.01, 3);
    const result = await second.finish({
      bestEpoch: 5,
      bestValAccuracy: 0.4,
      testLoss: 1.25,
      testAccuracy: 0.35,
      runDir,
    });

    assert.equal(first.reused, false);
    assert.equal(second.reused, true);
    assert.equal(second.runId, first.runId);
    for (const key of EPOCH_METRICS) {
      assert.deepEqual(await storedSteps(client, first.runId, key), [1, 2, 3, 4, 5], key);
    }
    for (const key of TRIAL_SUMMARY_METRICS) {
      assert.deepEqual(await storedSteps(client, first.runId, key), [0], key);
    }
    const valAccuracy = await client.getMetricHistory(first.runId, 'val_accuracy');
    assert.equal(valAccuracy[2]?.value, fakeEpoch(3).logs.val_accuracy, 'attempt 1 keeps epoch 3');
    assert.equal(valAccuracy[4]?.value, fakeEpoch(5, 0.01).logs.val_accuracy);

    const runs = await client.searchRuns({
      experimentIds: [sweep.ref.experimentId],
      filter: tagFilter(TAGS.trialId, trial.id),
    });
    assert.equal(runs.length, 1, 'exactly one run per trial');
    const run = runs[0]!;
    assert.equal(run.info.status, 'FINISHED');
    assert.equal(run.info.runName, trial.name);
    assert.equal(run.tags[TAGS.parentRunId], sweep.ref.parentRunId);
    assert.equal(run.tags[TAGS.attempt], '2');
    assert.equal(run.tags[TAGS.workerHost], 'worker-2');
    assert.equal(run.tags[TAGS.device], 'gpu:0');
    assert.equal(run.tags[TAGS.backend], 'tensorflow');
    assert.equal(run.tags[TAGS.sweepId], plan.sweepId);
    assert.deepEqual(run.params, trialParams(trial.config));
    assert.equal(run.metrics.test_accuracy, 0.35);

    assert.deepEqual(result.missing, []);
    assert.deepEqual(result.artifacts, [
      'confusion-matrix.png',
      'history.json',
      'metrics.json',
      'model-summary.txt',
      'model/model.json',
      'model/weights.bin',
      'test-predictions.png',
      'train-samples.png',
      'training-curves.png',
    ]);
    const listed = await client.listArtifacts(first.runId, '', { recursive: true });
    assert.ok(!listed.some((entry) => entry.path.startsWith('checkpoint')), 'no checkpoint');
  });

  test('trial run - finish logs the epochs a crashed attempt never sent, from history.json', {
    timeout: 60_000,
  }, async () => {
    const trial = freshTrial();
    const runDir = path.join(workDir, 'backfill');

    // Attempt 1 checkpointed epoch 2 but died before its report went out.
    const first = await startTrial(trial, 1);
    await first.epoch(fakeEpoch(1));
    await first.flush(30_000);
    const second = await startTrial(trial, 2);
    await second.epoch(fakeEpoch(3));
    await fakeRunFolder(runDir, 3);
    await second.finish({
      bestEpoch: 3,
      bestValAccuracy: 0.3,
      testLoss: 1,
      testAccuracy: 0.3,
      runDir,
    });

    const history = await client.getMetricHistory(second.runId, 'loss');
    assert.deepEqual(
      history.map((point) => [point.step, point.value]),
      [1, 2, 3].map((epoch) => [epoch, fakeEpoch(epoch).logs.loss]),
    );
  });

  test('trial run - fail records a first line without secrets; a retry runs again, cancel kills', {
    timeout: 60_000,
  }, async () => {
    const trial = freshTrial();
    const first = await startTrial(trial, 1);
    await first.epoch(fakeEpoch(1));

    const recorded = await first.fail(
      new SweepError(
        'upload to http://ann:hunter2@store.local/x?token=abc123 failed\n    at stack line',
        { code: 'X' },
      ),
      1,
    );

    let run = await client.getRun(first.runId);
    assert.equal(recorded, true);
    assert.equal(run.info.status, 'FAILED');
    assert.equal(
      run.tags[TAGS.failureReason],
      'SweepError: upload to http://***@store.local/x?token=*** failed',
    );
    assert.equal(run.tags[TAGS.failedAttempt], '1');
    assert.deepEqual(await storedSteps(client, first.runId, 'loss'), [1]);

    const second = await startTrial(trial, 2);
    run = await client.getRun(second.runId);
    assert.equal(second.runId, first.runId);
    assert.equal(run.info.status, 'RUNNING');
    assert.equal(run.tags[TAGS.attempt], '2');

    assert.equal(await second.cancel(), true);
    run = await client.getRun(second.runId);
    assert.equal(run.info.status, 'KILLED');
  });

  test('trial run - start refuses an attempt below 1 and an unknown device', async () => {
    await assert.rejects(startTrial(freshTrial(), 0, { device: 'tpu' }), {
      code: 'CONFIG_INVALID',
      message:
        `cannot record trial ${plan.sweepId}-tcase${counter}: attempt must be a whole number ` +
        'of at least 1, got 0; device must be "cpu" or "gpu:<N>", got "tpu"',
    });
  });

  test('trial run - params are the dotted hyperparameters, without the dataset folder', () => {
    const params = trialParams(plan.trials[1]!.config);

    assert.equal(params['model.attention'], 'block1');
    assert.equal(params['model.dropout.dense'], '0.5');
    assert.equal(params['training.schedule.name'], 'plateau');
    assert.equal(params['training.epochs'], '2');
    assert.equal(params['callbacks.earlyStopping.patience'], '15');
    assert.equal(params['dataset.imageSize'], '32');
    assert.equal(params['dataset.split.seed'], '42');
    assert.equal(params['augmentation.rescale'], String(1 / 255));
    assert.equal(params['augmentation.horizontalFlip'], 'true');
    assert.equal(params['dataset.root'], undefined);
    assert.equal(Number(params['augmentation.rescale']), 1 / 255, 'round-trips');
  });

  test('trial run - failure reasons keep one line, mask secrets and stay short', () => {
    assert.equal(failureReason(new Error('\n\nfirst\nsecond')), 'first');
    assert.equal(failureReason('Bearer abc.def rejected'), 'Bearer *** rejected');
    assert.equal(failureReason(new Error('password: s3cret, user x')), 'password: ***, user x');
    assert.equal(failureReason(new Error('')), '(no message)');
    assert.equal(failureReason(new Error('x'.repeat(600))).length, 500);
  });

  test('trial run - uploads every file a trial writes except the checkpoint', () => {
    assert.deepEqual([...TRIAL_ARTIFACT_FILES].sort(), Object.values(RUN_FILES).sort());
  });

  test('trial run - MLflow stopped for 15 s mid-trial and restarted loses nothing', {
    timeout: 240_000,
  }, async (t) => {
    const trial = { ...freshTrial(), config: structuredClone(plan.trials[0]!.config) };
    trial.config.training.epochs = 4;
    const dataset: LoadedDataset = await loadDataset(trial.config.dataset);
    const runDir = path.join(workDir, 'outage');
    const recorder = await startTrial(trial, 1);

    let restart: Promise<MlflowServer> | undefined;
    let restarted = false;
    const port = server.port;
    t.after(async () => {
      // Whatever happens, the server that is running at the end is the one `after` stops.
      if (restart !== undefined) server = await restart;
    });

    const epochCallMs: number[] = [];
    const summary = await trainTrial({
      config: trial.config,
      runDir,
      dataset,
      onEpoch: async (report) => {
        const started = performance.now();
        await recorder.epoch(report);
        epochCallMs.push(performance.now() - started);

        if (report.epoch === 1) {
          await recorder.flush(30_000);
          await server.stop();
          restart = sleep(15_000).then(async () => {
            const next = await startMlflowServer({ stateDir, port, startTimeoutMs: 120_000 });
            restarted = true;
            return next;
          });
        }
      },
    });
    const trainedDuringOutage = !restarted;
    const result = await recorder.finish(summary);
    server = await restart!;
    restart = undefined;

    assert.ok(trainedDuringOutage, 'epochs 2-4 ran while MLflow was down');
    assert.ok(Math.max(...epochCallMs) < 200, `epoch() never waits: ${epochCallMs.join(', ')}`);
    for (const key of EPOCH_METRICS) {
      assert.deepEqual(await storedSteps(client, recorder.runId, key), [1, 2, 3, 4], key);
    }
    const run = await client.getRun(recorder.runId);
    assert.equal(run.info.status, 'FINISHED');
    assert.equal(run.metrics.test_accuracy, summary.testAccuracy);
    assert.ok(result.artifacts.includes('model/model.json'));
    assert.deepEqual(result.missing, []);
  });
});
