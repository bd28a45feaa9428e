import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import sharp from 'sharp';

import { predict } from '../../cli/commands/predict.js';
import { loadDataset, type LoadedDataset } from '../../data/dataset.js';
import { tf } from '../../lib/tf.js';
import type { LoadedSpec } from '../../spec/load.js';
import type { SweepPlan } from '../../spec/plan.js';
import { MlflowClient, tagFilter, type Run } from '../../tracking/client.js';
import { rankTrials, type LeaderboardTrial } from '../../tracking/leaderboard.js';
import type { MlflowServer } from '../../tracking/server.js';
import { SweepRecorder, sweepParams } from '../../tracking/sweep-run.js';
import { EPOCH_METRICS, TAGS } from '../../tracking/tags.js';
import { TrialRecorder, trialParams } from '../../tracking/trial-run.js';
import { evaluateSplit } from '../../training/trainer.js';
import { trainTrial, type TrialSummary } from '../../training/trial.js';
import { silentLogger, startTestServer } from './helpers.js';
import { storedSteps, tinySweep } from './recording-helpers.js';

const WORKFLOW_URL = 'http://127.0.0.1:8233/namespaces/default/workflows/sweep-x';

let server: MlflowServer;
let dispose: () => Promise<void>;
let client: MlflowClient;
let workDir: string;
let loaded: LoadedSpec;
let plan: SweepPlan;
let dataset: LoadedDataset;

/** Filled by the first test, read by the later ones. */
const done: {
  trials: LeaderboardTrial[];
  summaries: Map<string, TrialSummary>;
  ref?: SweepRecorder;
} = { trials: [], summaries: new Map() };

/** Collects what a command prints. */
function sink(): { write(text: string): boolean; text: () => string } {
  const chunks: string[] = [];
  return {
    write(text: string) {
      chunks.push(text);
      return true;
    },
    text: () => chunks.join(''),
  };
}

async function childRuns(parentRunId: string, experimentId: string): Promise<Run[]> {
  return await client.searchRuns({
    experimentIds: [experimentId],
    filter: tagFilter(TAGS.parentRunId, parentRunId),
  });
}

describe('sweep run', { timeout: 500_000 }, () => {
  before(async () => {
    ({ server, dispose } = await startTestServer());
    client = new MlflowClient({ trackingUri: server.url, logger: silentLogger });
    workDir = await mkdtemp(path.join(tmpdir(), 'sweep-run-'));
    ({ loaded, plan } = await tinySweep(workDir, 'sweep-run-test'));
    dataset = await loadDataset(plan.trials[0]!.config.dataset);
  }, { timeout: 150_000 });

  after(async () => {
    await dispose?.();
    await rm(workDir, { recursive: true, force: true });
  });

  test('sweep run - two real trials leave a parent with nested runs, reports and the best model', {
    timeout: 300_000,
  }, async () => {
    const sweep = await SweepRecorder.start({
      client,
      plan,
      spec: loaded,
      temporalWorkflowUrl: WORKFLOW_URL,
      logger: silentLogger,
    });
    const again = await SweepRecorder.start({ client, plan, spec: loaded, logger: silentLogger });
    assert.equal(sweep.reused, false);
    assert.equal(again.reused, true);
    assert.deepEqual(again.ref, sweep.ref);

    for (const trial of plan.trials) {
      const recorder = await TrialRecorder.start({
        client,
        experimentId: sweep.ref.experimentId,
        parentRunId: sweep.ref.parentRunId,
        sweepId: plan.sweepId,
        trial,
        attempt: 1,
        backend: tf.getBackend(),
        device: 'cpu',
        logger: silentLogger,
      });
      const summary = await trainTrial({
        config: trial.config,
        runDir: path.join(workDir, 'runs', trial.id),
        dataset,
        onEpoch: (report) => recorder.epoch(report),
      });
      await recorder.finish(summary);

      done.summaries.set(trial.id, summary);
      done.trials.push({
        id: trial.id,
        name: trial.name,
        values: trial.values,
        state: 'done',
        epoch: summary.epochsRun,
        bestValAccuracy: summary.bestValAccuracy,
        testAccuracy: summary.testAccuracy,
      });
    }
    const result = await sweep.finish({ trials: done.trials });
    done.ref = sweep;

    // The parent run.
    const expectedBest = rankTrials(done.trials)[0]!;
    const parent = await client.getRun(sweep.ref.parentRunId);
    assert.equal(parent.info.runName, plan.sweepId);
    assert.equal(parent.info.status, 'FINISHED');
    assert.deepEqual(parent.params, {
      'grid.model.attention': '["none","block1"]',
      'search.method': 'grid',
      'sweep.trials': '2',
    });
    assert.deepEqual(parent.params, sweepParams(plan));
    assert.equal(parent.tags[TAGS.sweepId], plan.sweepId);
    assert.equal(parent.tags[TAGS.specHash], loaded.hash);
    assert.equal(parent.tags[TAGS.workflowUrl], WORKFLOW_URL);
    assert.match(parent.tags[TAGS.gitCommit] ?? '', /^[0-9a-f]{40}$/);
    assert.equal(parent.tags[TAGS.bestTrialId], expectedBest.trialId);
    assert.equal(parent.tags['best.model.attention'], expectedBest.values['model.attention']);
    assert.equal(result.best?.trialId, expectedBest.trialId);
    assert.equal(parent.metrics.trials_done, 2);
    assert.equal(parent.metrics.best_val_accuracy, expectedBest.bestValAccuracy);

    const parentFiles = (await client.listArtifacts(sweep.ref.parentRunId, '', { recursive: true }))
      .filter((entry) => !entry.isDir)
      .map((entry) => entry.path)
      .sort();
    assert.deepEqual(parentFiles, [
      'leaderboard.csv',
      'leaderboard.md',
      'spec/sweep-run-test.yaml',
      'val-accuracy-by-axis.png',
    ]);
    const specText = await client.downloadArtifact(
      sweep.ref.parentRunId,
      'spec/sweep-run-test.yaml',
    );
    assert.equal(new TextDecoder().decode(specText), loaded.text);
    const plot = await client.downloadArtifact(sweep.ref.parentRunId, 'val-accuracy-by-axis.png');
    assert.deepEqual(
      await sharp(plot).metadata().then(({ format, width }) => ({ format, width })),
      { format: 'png', width: 480 },
    );

    // The trial runs, nested.
    const children = await childRuns(sweep.ref.parentRunId, sweep.ref.experimentId);
    assert.equal(children.length, 2);
    const csv = new TextDecoder().decode(
      await client.downloadArtifact(sweep.ref.parentRunId, 'leaderboard.csv'),
    );
    const csvLines = csv.trimEnd().split('\r\n');
    assert.equal(csvLines.length, 3);
    assert.match(csvLines[1]!, new RegExp(`^1,${expectedBest.trialId},`));

    for (const trial of plan.trials) {
      const child = children.find((run) => run.tags[TAGS.trialId] === trial.id);
      assert.ok(child, `run of ${trial.id}`);
      assert.equal(child.info.runName, trial.name);
      assert.equal(child.info.status, 'FINISHED');
      assert.deepEqual(child.params, trialParams(trial.config));
      assert.ok(csv.includes(child.info.runId), 'leaderboard names the run');
      for (const key of EPOCH_METRICS) {
        assert.deepEqual(await storedSteps(client, child.info.runId, key), [1, 2], key);
      }

      const files = (await client.listArtifacts(child.info.runId, '', { recursive: true }))
        .filter((entry) => !entry.isDir)
        .map((entry) => entry.path);
      for (const file of ['model/model.json', 'model/weights.bin', 'metrics.json']) {
        assert.ok(files.includes(file), file);
      }
      assert.ok(!files.some((file) => file.startsWith('checkpoint')), 'no checkpoint');
      const local = await readFile(path.join(workDir, 'runs', trial.id, 'model', 'weights.bin'));
      const remote = await client.downloadArtifact(child.info.runId, 'model/weights.bin');
      assert.ok(Buffer.from(remote).equals(local), 'weights download intact');
    }

    // The registered model.
    const bestRun = children.find((run) => run.tags[TAGS.trialId] === expectedBest.trialId)!;
    const registry = (await (
      await fetch(`${server.url}/api/2.0/mlflow/registered-models/get?name=sweep-run-test`)
    ).json()) as { registered_model: { latest_versions: { run_id: string; source: string }[] } };
    const versions = registry.registered_model.latest_versions;
    assert.equal(versions.length, 1);
    assert.equal(versions[0]?.run_id, bestRun.info.runId);
    assert.equal(versions[0]?.source, `runs:/${bestRun.info.runId}/model`);
    assert.equal(result.modelVersion?.version, '1');
    assert.equal(parent.tags[TAGS.bestModelVersion], 'sweep-run-test/1');
  });

  test('sweep run - finishing again registers nothing new and adds no metric point', {
    timeout: 60_000,
  }, async () => {
    const sweep = done.ref;
    assert.ok(sweep, 'needs the first test');

    const result = await SweepRecorder.attach(client, sweep.ref, silentLogger).finish({
      trials: done.trials,
    });

    assert.deepEqual(result.modelVersion, { name: 'sweep-run-test', version: '1' });
    assert.deepEqual(await storedSteps(client, sweep.ref.parentRunId, 'best_val_accuracy'), [2]);
    const children = await childRuns(sweep.ref.parentRunId, sweep.ref.experimentId);
    assert.equal(children.length, 2);
  });

  test('sweep run - sweep predict gives the class and probability of the trained model', {
    timeout: 60_000,
  }, async () => {
    const best = done.ref === undefined ? undefined : rankTrials(done.trials)[0];
    assert.ok(best, 'needs the first test');
    const photo = dataset.test.paths[0]!;

    const output = sink();
    const result = await predict({
      model: `best:${plan.sweepId}`,
      images: [photo],
      json: true,
      trackingUri: server.url,
      stdout: output,
    });

    // The trial's own model, from its run folder, on the dataset pipeline.
    const runDir = done.summaries.get(best.trialId)!.runDir;
    const model = await tf.loadLayersModel(`file://${path.join(runDir, 'model', 'model.json')}`);
    const expected = evaluateSplit(model, dataset.test, 1 / 255, 8);
    model.dispose();

    const prediction = result.predictions[0]!;
    assert.equal(result.trialId, best.trialId);
    assert.equal(result.sweepId, plan.sweepId);
    assert.deepEqual(result.classNames, dataset.classNames);
    assert.deepEqual(result.imageSize, { height: 32, width: 32 });
    assert.equal(result.rescale, 1 / 255);
    assert.equal(prediction.className, dataset.classNames[expected.predicted[0]!]);
    assert.ok(Math.abs(prediction.probability - expected.confidence[0]!) < 1e-5);
    assert.deepEqual(JSON.parse(output.text()), JSON.parse(JSON.stringify(result)));
  });

  test('sweep predict - prints path, class and probability for a run id', {
    timeout: 60_000,
  }, async () => {
    const sweep = done.ref;
    assert.ok(sweep, 'needs the first test');
    const [child] = await childRuns(sweep.ref.parentRunId, sweep.ref.experimentId);
    const photos = [dataset.test.paths[0]!, dataset.test.paths[5]!];

    const output = sink();
    const result = await predict({
      model: child!.info.runId,
      images: photos,
      json: false,
      trackingUri: server.url,
      stdout: output,
    });

    const lines = output.text().trimEnd().split('\n');
    assert.equal(lines.length, 2);
    result.predictions.forEach((prediction, index) => {
      assert.match(lines[index]!, /^\S+ {2,}\S+ {2,}\d\.\d{4}$/);
      assert.ok(lines[index]!.startsWith(photos[index]!));
      assert.ok(lines[index]!.endsWith(prediction.probability.toFixed(4)));
      assert.ok(lines[index]!.includes(`  ${prediction.className}`));
    });
  });

  test('sweep predict - explains a missing server, a bad reference, unknown runs and images', {
    timeout: 60_000,
  }, async () => {
    // On a Temporal cluster there is no embedded MLflow to fall back on.
    const saved = { uri: process.env.MLFLOW_TRACKING_URI, temporal: process.env.TEMPORAL_ADDRESS };
    delete process.env.MLFLOW_TRACKING_URI;
    process.env.TEMPORAL_ADDRESS = 'temporal.lab:7233';
    try {
      await assert.rejects(predict({ model: 'best:x-00000000', images: ['a.jpg'], json: false }), {
        code: 'CONFIG_INVALID',
        message: 'no MLflow server to read the model from',
        hint:
          'Pass --tracking-uri http://127.0.0.1:5000 or set MLFLOW_TRACKING_URI to the server ' +
          'the sweep logged to.',
      });
    } finally {
      if (saved.uri !== undefined) process.env.MLFLOW_TRACKING_URI = saved.uri;
      if (saved.temporal === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved.temporal;
    }

    const common = { images: ['a.jpg'], json: false, trackingUri: server.url };
    await assert.rejects(predict({ ...common, model: 'run-7' }), {
      message: '--model "run-7" is neither a run id (32 hex digits) nor best:<sweep id>',
    });
    await assert.rejects(predict({ ...common, model: 'best:nosuch-0123abcd' }), {
      message:
        `MLflow at ${server.url} has no experiment "nosuch", so sweep nosuch-0123abcd was not ` +
        'recorded there',
    });
    await assert.rejects(predict({ ...common, model: '0'.repeat(32) }), {
      message: `MLflow at ${server.url} has no run ${'0'.repeat(32)}`,
    });
    await assert.rejects(predict({ ...common, model: done.ref!.ref.parentRunId }), {
      message:
        `run ${done.ref!.ref.parentRunId} has no model/model.json artifact; only trials that ` +
        'finished upload their model',
    });

    const [child] = await childRuns(done.ref!.ref.parentRunId, done.ref!.ref.experimentId);
    await assert.rejects(
      predict({ ...common, model: child!.info.runId, images: ['no/such.jpg', loaded.file] }),
      (error: Error & { code?: string; paths?: string[] }) => {
        assert.equal(error.code, 'DATASET_INVALID');
        assert.deepEqual(error.paths, ['no/such.jpg', loaded.file]);
        assert.match(error.message, /^2 images cannot be read:\n {2}no\/such\.jpg: cannot read/);
        assert.match(error.message, /\n {2}.*sweep-run-test\.yaml: /);
        return true;
      },
    );
  });
});
