/**
 * The whole path, small: `sweep start` (a copy of sweeps/quick.yaml: 2 trials, 32 px, 4 images
 * per class and split, 2 epochs) through the CLI with the embedded Temporal server and the
 * embedded MLflow server, its in-process worker scraped by a real Prometheus. Afterwards MLflow
 * holds the sweep's parent run with one finished child run per trial and the best model
 * registered, `sweep predict` classifies a test photo with it, and every dashboard query (ours
 * and the Temporal SDK's) returned data while the sweep ran.
 *
 * Trial 1 fails its first attempt on purpose (`execution.testOnly.failTrials`), so the
 * retried and failed-activity series exist too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

import { predict } from '../../cli/commands/predict.js';
import { findFreePort, isPortFree } from '../../temporal/dev-server.js';
import { MlflowClient, type Run } from '../../tracking/client.js';
import { acquireEmbeddedMlflow, type EmbeddedMlflowLease } from '../../tracking/embedded.js';
import { EPOCH_METRICS, TAGS, TRIAL_SUMMARY_METRICS } from '../../tracking/tags.js';
import {
  dashboardQueries,
  startPrometheus,
  type DashboardQuery,
  type TestPrometheus,
} from '../metrics/helpers.js';
import { silentLogger } from '../tracking/helpers.js';
import { storedSteps } from '../tracking/recording-helpers.js';
import { launchCli, type CliRun } from './temporal-harness.js';

const QUICK_SPEC = fileURLToPath(new URL('../../sweeps/quick.yaml', import.meta.url));
const FLOWERS = fileURLToPath(new URL('../../../shared/datasets/flowers', import.meta.url));

/** Files every finished trial uploads (the checkpoint never). */
const TRIAL_FILES = [
  'confusion-matrix.png',
  'history.json',
  'metrics.json',
  'model-summary.txt',
  'model/model.json',
  'test-predictions.png',
  'train-samples.png',
  'training-curves.png',
];

describe('sweep start with embedded MLflow, scraped by Prometheus', {
  timeout: 300_000,
  skip: existsSync(FLOWERS) ? false : `no dataset at ${FLOWERS}`,
}, () => {
  let dir: string;
  let stateDir: string;
  let mlflowPort: number;
  let metricsPort: number;
  let prometheus: TestPrometheus | null = null;
  let lease: EmbeddedMlflowLease | null = null;
  let client: MlflowClient;
  let run: CliRun;
  let sweepId: string;
  /** Dashboard queries that never returned data while the sweep ran. */
  let withoutData: DashboardQuery[] = [];
  /** How Prometheus's scrapes of the worker went, when a query had no data. */
  let scrapes = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-observability-'));
    stateDir = join(dir, 'state');
    await writeFile(join(dir, 'quick.yaml'), tinyQuickSpec());

    mlflowPort = await findFreePort();
    metricsPort = await freePortPair();
    prometheus = await startPrometheus({
      scrapeConfigs: [
        { job_name: 'sweep-workers', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] },
        {
          job_name: 'temporal-sdk',
          static_configs: [{ targets: [`127.0.0.1:${metricsPort + 1}`] }],
        },
      ],
    });

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SWEEP_STATE_DIR: stateDir,
      SWEEP_TEMPORAL_PORT: String(await findFreePort()),
      SWEEP_TEMPORAL_UI_PORT: String(await findFreePort()),
      SWEEP_MLFLOW_PORT: String(mlflowPort),
      SWEEP_LOG_LEVEL: 'error',
    };
    delete env.MLFLOW_TRACKING_URI;
    delete env.TEMPORAL_ADDRESS;

    const args = ['start', 'quick.yaml', '--slots', '2', '--metrics-port', String(metricsPort)];
    const start = Date.now() / 1000;
    run = await runUntilClosed(launchCli(args, { cwd: dir, env }), 240_000);
    const range = { start, end: Date.now() / 1000 };
    withoutData = await queriesWithoutData(prometheus, range);
    if (withoutData.length > 0) scrapes = await workerScrapes(prometheus, range);
    sweepId = /started sweep (quick-[0-9a-f]{8})/.exec(run.stdout)?.[1] ?? '';

    // The command stopped the embedded MLflow server on its way out; open the same state
    // folder again to read what it stored (and for `sweep predict`, which joins it).
    process.env.SWEEP_STATE_DIR = stateDir;
    process.env.SWEEP_MLFLOW_PORT = String(mlflowPort);
    lease = await acquireEmbeddedMlflow({ stateDir, port: mlflowPort });
    client = new MlflowClient({ trackingUri: lease.url, logger: silentLogger });
  }, { timeout: 280_000 });

  after(async () => {
    await prometheus?.stop();
    await lease?.release();
    delete process.env.SWEEP_STATE_DIR;
    delete process.env.SWEEP_MLFLOW_PORT;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** The sweep's parent run and its child runs. */
  async function sweepRuns(): Promise<{ parent: Run; children: Run[] }> {
    const experiment = await client.getExperimentByName('quick');
    assert.ok(experiment !== undefined, 'the experiment is named after the sweep');
    const runs = await client.searchRuns({ experimentIds: [experiment.experimentId] });

    const parents = runs.filter((one) => one.tags[TAGS.role] === 'parent');
    assert.equal(parents.length, 1);
    const parent = parents[0]!;
    const children = runs.filter((one) => one.tags[TAGS.parentRunId] === parent.info.runId);
    children.sort((a, b) => Number(a.tags[TAGS.trialIndex]) - Number(b.tags[TAGS.trialIndex]));
    return { parent, children };
  }

  test('observability - sweep start prints the MLflow and metrics links, then stops MLflow',
    async () => {
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /completed: 2 done, 0 running, 0 failed, 0 cancelled, 0 queued/);

      const { parent } = await sweepRuns();
      const link =
        `MLflow: http://127.0.0.1:${mlflowPort}/#/experiments/${parent.info.experimentId}` +
        `/runs/${parent.info.runId}`;
      const lines = run.stdout.split('\n');
      assert.equal(lines.filter((line) => line === link).length, 2, 'at the start and the end');
      assert.ok(lines.indexOf(link) === lines.findIndex((line) => line.startsWith('UI: ')) + 1);
      assert.ok(
        lines.includes(
          `metrics: http://127.0.0.1:${metricsPort}/metrics (Temporal SDK: ` +
            `http://127.0.0.1:${metricsPort + 1}/metrics)`,
        ),
        run.stdout,
      );
      assert.ok(lease?.started, 'the command had stopped the embedded MLflow server');
    });

  test('observability - MLflow holds the parent run, one finished child run per trial',
    async () => {
      const { parent, children } = await sweepRuns();
      assert.equal(parent.info.status, 'FINISHED');
      assert.equal(parent.tags[TAGS.sweepId], sweepId);
      assert.match(parent.tags[TAGS.workflowUrl] ?? '', new RegExp(`/workflows/${sweepId}$`));
      const parentFiles = (await client.listArtifacts(parent.info.runId, '', { recursive: true }))
        .filter((entry) => !entry.isDir)
        .map((entry) => entry.path)
        .sort();
      assert.deepEqual(parentFiles, [
        'leaderboard.csv',
        'leaderboard.md',
        'spec/quick.yaml',
        'val-accuracy-by-axis.png',
      ]);

      assert.deepEqual(
        children.map((child) => [child.info.runName, child.info.status]),
        [
          ['attention=none', 'FINISHED'],
          ['attention=block1', 'FINISHED'],
        ],
      );
      // Trial 1 failed its first attempt on purpose; its run records the attempt that finished.
      assert.deepEqual(children.map((child) => child.tags[TAGS.attempt]), ['1', '2']);

      for (const child of children) {
        const runId = child.info.runId;
        for (const key of EPOCH_METRICS) {
          assert.deepEqual(await storedSteps(client, runId, key), [1, 2], `${key} of ${runId}`);
        }
        for (const key of TRIAL_SUMMARY_METRICS) {
          assert.deepEqual(await storedSteps(client, runId, key), [0], `${key} of ${runId}`);
        }

        const files = (await client.listArtifacts(runId, '', { recursive: true }))
          .filter((entry) => !entry.isDir)
          .map((entry) => entry.path)
          .filter((file) => !file.startsWith('model/') || file === 'model/model.json')
          .sort();
        assert.deepEqual(files, TRIAL_FILES);
      }
    });

  test('observability - the best trial\'s model is registered under the sweep\'s name',
    async () => {
      const { parent, children } = await sweepRuns();
      const bestTrialId = parent.tags[TAGS.bestTrialId];
      const bestRun = children.find((child) => child.tags[TAGS.trialId] === bestTrialId);
      assert.ok(bestRun !== undefined, `best.trial_id ${bestTrialId} is one of the trials`);
      assert.equal(parent.tags[TAGS.bestModelVersion], 'quick/1');

      const answer = await fetch(`${lease?.url}/api/2.0/mlflow/registered-models/get?name=quick`);
      const registry = (await answer.json()) as {
        registered_model: { latest_versions: { version: string; run_id: string }[] };
      };
      assert.deepEqual(
        registry.registered_model.latest_versions.map((v) => [v.version, v.run_id]),
        [['1', bestRun.info.runId]],
      );
    });

  test('observability - sweep predict --model best:<sweep id> classifies a test photo',
    async () => {
      const daisies = join(FLOWERS, 'test', 'daisy');
      const photo = join(daisies, readdirSync(daisies).sort()[0]!);
      let printed = '';

      const result = await predict({
        model: `best:${sweepId}`,
        images: [photo],
        json: true,
        stdout: { write: (text: string) => (printed += text) },
      });

      assert.deepEqual(result.classNames, ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip']);
      assert.deepEqual(result.imageSize, { height: 32, width: 32 });
      const [prediction] = result.predictions;
      assert.ok(prediction !== undefined && result.classNames.includes(prediction.className));
      const total = Object.values(prediction.probabilities).reduce((sum, p) => sum + p, 0);
      assert.ok(Math.abs(total - 1) < 1e-4, `probabilities sum to ${total}`);
      assert.equal((JSON.parse(printed) as { runId: string }).runId, result.runId);
    });

  test('observability - every dashboard query returned data while the sweep ran', () => {
    const missing = withoutData.map(({ where, promql }) => `${where}\n  ${promql}`);
    assert.deepEqual(missing, [], scrapes);
  });
});

/** sweeps/quick.yaml made tiny: 2 trials, 32 px, 4 images per class and split, 2 epochs. */
function tinyQuickSpec(): string {
  const spec = parseYaml(readFileSync(QUICK_SPEC, 'utf8')) as Record<string, any>;
  spec.dataset = { ...spec.dataset, root: FLOWERS, imageSize: 32, maxPerClass: 4 };
  spec.training = { ...spec.training, epochs: 2 };
  spec.grid = { 'model.attention': ['none', 'block1'] };
  spec.execution = {
    retry: { maximumAttempts: 2, initialIntervalSeconds: 1 },
    testOnly: { failTrials: [1] },
  };
  return stringifyYaml(spec);
}

/** A free loopback port whose next port is free too (ours and the SDK's metrics). */
async function freePortPair(): Promise<number> {
  for (let tries = 0; tries < 20; tries += 1) {
    const port = await findFreePort();
    if (port < 65535 && (await isPortFree('127.0.0.1', port + 1))) return port;
  }
  throw new Error('no two free neighbouring ports found');
}

/** Collects a CLI process's output until it exits; kills it after `timeoutMs`. */
function runUntilClosed(child: ReturnType<typeof launchCli>, timeoutMs: number): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  return new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sweep start took over ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The dashboard queries that returned no data at any moment from `start` to `end` (Unix
 * seconds), each run as a range query every quarter second. Looking back over the sweep,
 * rather than polling while it runs, also finds series that a loaded machine let Prometheus
 * see only between two slow scrapes.
 */
async function queriesWithoutData(
  prometheus: TestPrometheus,
  range: { start: number; end: number },
): Promise<DashboardQuery[]> {
  const missing: DashboardQuery[] = [];
  for (const query of await dashboardQueries()) {
    const answer = await prometheus.queryRange(query.promql, { ...range, step: 0.25 });
    assert.equal(answer.status, 'success', `${query.where}: ${answer.error ?? ''}`);
    if ((answer.data?.result.length ?? 0) === 0) missing.push(query);
  }
  return missing;
}

/** How many of Prometheus's scrapes of the worker succeeded in the range, for a failure. */
async function workerScrapes(
  prometheus: TestPrometheus,
  range: { start: number; end: number },
): Promise<string> {
  const seconds = Math.ceil(range.end - range.start) + 1;
  const answer = await prometheus.query(
    `sum_over_time(up{job="sweep-workers"}[${seconds}s]) / ` +
      `count_over_time(up{job="sweep-workers"}[${seconds}s])`,
  );
  const first = answer.data?.result[0] as { value: [number, string] } | undefined;
  return first === undefined ? 'no scrapes' : `share of successful scrapes: ${first.value[1]}`;
}
