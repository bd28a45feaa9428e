/**
 * The dashboard and the alert rules against a real Prometheus (Debian's `prometheus`, set up
 * by scripts/setup.sh) scraping a real metrics server every second, plus promtool's checks.
 *
 * Temporal SDK metrics (temporal_*) exist only while a real worker polls a real server, so
 * their queries are only required to parse here; test/integration/sweep-observability.test.ts
 * runs them against a real worker during a real sweep.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { parse as parseYaml } from 'yaml';

import { tf } from '../../lib/tf.js';
import { startMetricsServer, type MetricsServer } from '../../metrics/server.js';
import { TEMPORAL_SDK_METRICS } from '../../metrics/temporal-telemetry.js';
import {
  createWorkerMetrics,
  type TrialOutcomeLabel,
  type WorkerMetrics,
} from '../../metrics/worker-metrics.js';
import {
  DEPLOY_FILES,
  dashboardQueries,
  freePort,
  runCommand,
  startPrometheus,
  type QueryAnswer,
  type TestPrometheus,
} from './helpers.js';

const DASHBOARD = DEPLOY_FILES.dashboard;
const ALERTS = DEPLOY_FILES.alerts;
const PROMETHEUS_CONFIG = DEPLOY_FILES.prometheusConfig;

let metrics: WorkerMetrics;
let server: MetricsServer;
let prometheus: TestPrometheus | null = null;
let kept: { dispose(): void } | null = null;

async function query(promql: string): Promise<QueryAnswer> {
  if (prometheus === null) throw new Error('Prometheus is not running');
  return await prometheus.query(promql);
}

async function scalar(promql: string): Promise<number> {
  const answer = await query(promql);
  const first = answer.data?.result[0] as { value: [number, string] } | undefined;
  return first === undefined ? NaN : Number(first.value[1]);
}

/** Polls `check` every 200 ms until it is true; fails with Prometheus's log after the limit. */
async function waitFor(what: string, check: () => Promise<boolean>, limitMs = 20_000) {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  const log = prometheus?.log() ?? '';
  assert.fail(`timed out after ${limitMs} ms waiting for ${what}\nprometheus:\n${log}`);
}

/** Scrapes of the metrics server Prometheus has stored. */
async function scrapesSoFar(): Promise<number> {
  const instance = `127.0.0.1:${server.port}`;
  return await scalar(`count_over_time(up{job="sweep-workers", instance="${instance}"}[5m])`);
}

async function alertRules(): Promise<{ alert: string; expr: string }[]> {
  const file = parseYaml(await readFile(ALERTS, 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return file.groups.flatMap((group) => group.rules);
}

/** Trials and epochs as a worker records them; the parts that alerts count come later. */
function recordSteadyActivity(worker: WorkerMetrics): void {
  worker.setSlots(4, 0);
  worker.trialStarted('dropout');
  worker.trialStarted('stalled');
  worker.setSlots(4, 2);
}

/** Recorded after Prometheus has seen the series at zero, so increase() counts them. */
function recordTrouble(worker: WorkerMetrics): void {
  const trialMemory = { numTensors: 180, numBytes: 64_000_000 };
  for (const [index, epochSeconds] of [38, 41, 45].entries()) {
    worker.epochFinished('dropout', {
      epochSeconds,
      imagesPerSecond: 90 - index,
      valAccuracy: 0.5 + index / 10,
      slot: 0,
      tensorMemory: trialMemory,
    });
  }

  const outcomes: TrialOutcomeLabel[] = ['failed', 'failed', 'failed', 'succeeded'];
  outcomes.push('retried', 'retried', 'retried', 'retried', 'retried');
  for (const outcome of outcomes) {
    worker.trialStarted('dropout');
    worker.trialFinished('dropout', outcome, { durationSeconds: 120, slot: 1 });
  }
}

describe('dashboard and alert rules on a real Prometheus', { timeout: 90_000 }, () => {
  before(async () => {
    metrics = createWorkerMetrics({ workerId: 'test-worker' });
    recordSteadyActivity(metrics);
    server = await startMetricsServer({ port: 0, registry: metrics.registry });

    // A tensor in this process, so the worker's own tensor gauges have a value.
    kept = tf.ones([64, 64]);

    // The deploy config's job names and rules, with this test's targets, scraped every second.
    // The second target never answers, so up == 0 exists for the worker-down alert.
    const deadPort = await freePort();
    prometheus = await startPrometheus({
      ruleFiles: [ALERTS],
      scrapeConfigs: [
        {
          job_name: 'sweep-workers',
          static_configs: [
            { targets: [`127.0.0.1:${server.port}`, `127.0.0.1:${deadPort}`] },
          ],
        },
      ],
    });

    await waitFor('two scrapes of the metrics server', async () => (await scrapesSoFar()) >= 2);

    recordTrouble(metrics);
    await waitFor('the failures in a scrape', async () => {
      return (await scalar('sum(sweep_trials_finished_total{outcome="failed"})')) === 3;
    });
    const seen = await scrapesSoFar();
    await waitFor('one more scrape', async () => (await scrapesSoFar()) > seen);
  }, { timeout: 60_000 });

  after(async () => {
    await prometheus?.stop();
    await server?.close();
    kept?.dispose();
  });

  test('every dashboard query is valid PromQL and has data for worker metrics', async () => {
    const queries = await dashboardQueries();
    assert.ok(queries.length >= 20, `only ${queries.length} queries found in ${DASHBOARD}`);

    const problems: string[] = [];
    for (const { where, promql } of queries) {
      const answer = await query(promql);
      if (answer.status !== 'success') {
        problems.push(`${where} is not valid: ${answer.error}\n  ${promql}`);
      } else if (!promql.includes('temporal_') && answer.data?.result.length === 0) {
        problems.push(`${where} returned nothing\n  ${promql}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('every alert expression is valid and finds the recorded trouble', async () => {
    const rules = await alertRules();
    assert.deepEqual(
      rules.map((rule) => rule.alert),
      [
        'SweepWorkerDown',
        'SweepTrialsFailing',
        'SweepTrialsRetrying',
        'SweepNoProgress',
        'SweepTrialsWaitingForSlots',
      ],
    );

    const found: Record<string, unknown[]> = {};
    for (const rule of rules) {
      const answer = await query(rule.expr);
      assert.equal(answer.status, 'success', `${rule.alert}: ${answer.error}`);
      const result = (answer.data?.result ?? []) as { metric: object }[];
      found[rule.alert] = result.map((sample) => sample.metric);
    }

    assert.equal(found.SweepWorkerDown?.length, 1);
    assert.deepEqual(found.SweepTrialsFailing, [{ sweep: 'dropout' }]);
    assert.deepEqual(found.SweepTrialsRetrying, [{ sweep: 'dropout' }]);
    assert.deepEqual(found.SweepNoProgress, [{ sweep: 'stalled' }]);
    assert.deepEqual(found.SweepTrialsWaitingForSlots, [], 'no Temporal SDK metrics here');
  });

  test('the alert rules load into Prometheus and fire or wait out their `for`', async () => {
    type Alert = { labels: { alertname: string; sweep?: string }; state: string };
    let alerts: Alert[] = [];
    await waitFor('the rules to be evaluated', async () => {
      const answer = (await (await fetch(`${prometheus?.url}/api/v1/alerts`)).json()) as {
        data: { alerts: Alert[] };
      };
      alerts = answer.data.alerts;
      return alerts.length >= 4;
    });

    const states = alerts
      .map((alert) => `${alert.labels.alertname} ${alert.labels.sweep ?? '-'} ${alert.state}`)
      .sort();
    assert.deepEqual(states, [
      'SweepNoProgress stalled pending',
      'SweepTrialsFailing dropout firing',
      'SweepTrialsRetrying dropout firing',
      'SweepWorkerDown - pending',
    ]);

    const rules = (await (await fetch(`${prometheus?.url}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const unhealthy = rules.data.groups
      .flatMap((group) => group.rules)
      .filter((rule) => rule.health !== 'ok')
      .map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`);
    assert.deepEqual(unhealthy, []);
  });

  test("the dashboard's variables list the recorded sweeps and workers", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      templating: { list: { name: string; definition: string }[] };
    };

    const values: Record<string, string[]> = {};
    for (const variable of dashboard.templating.list) {
      const match = /^label_values\((\w+), (\w+)\)$/.exec(variable.definition);
      assert.ok(match, `variable ${variable.name}: ${variable.definition}`);
      const answer = await query(`count by (${match[2]}) (${match[1]})`);
      const result = (answer.data?.result ?? []) as { metric: Record<string, string> }[];
      const label = match[2] as string;
      values[variable.name] = result.map((sample) => sample.metric[label] ?? '').sort();
    }
    assert.deepEqual(values, { sweep: ['dropout', 'stalled'], worker: ['test-worker'] });
  });

  test('temporal_* names in the dashboard and alerts are metrics the SDK exports', async () => {
    const texts = [await readFile(DASHBOARD, 'utf8'), await readFile(ALERTS, 'utf8')];
    const used = new Set(
      texts.flatMap((text) =>
        [...text.matchAll(/temporal_[a-z_]+/g)].map((match) =>
          match[0].replace(/_(bucket|count|sum)$/, ''),
        ),
      ),
    );

    const known = new Set<string>(Object.values(TEMPORAL_SDK_METRICS));
    assert.ok(used.size >= 3);
    assert.deepEqual([...used].filter((name) => !known.has(name)), []);
  });

  test('promtool finds nothing wrong in /metrics, the rules and the config', async () => {
    const text = await (await fetch(server.url)).text();
    const lint = await runCommand('promtool', ['check', 'metrics'], { input: text });
    assert.deepEqual(lint, { code: 0, stdout: '', stderr: '' });

    const rules = await runCommand('promtool', ['check', 'rules', ALERTS]);
    assert.equal(rules.code, 0, rules.stdout + rules.stderr);
    assert.match(rules.stdout, /SUCCESS: 5 rules found/);

    const config = await runCommand('promtool', ['check', 'config', PROMETHEUS_CONFIG]);
    assert.equal(config.code, 0, config.stdout + config.stderr);

    const jobs = (parseYaml(await readFile(PROMETHEUS_CONFIG, 'utf8')) as {
      scrape_configs: { job_name: string }[];
    }).scrape_configs.map((job) => job.job_name);
    assert.deepEqual(jobs, ['sweep-workers', 'temporal-sdk', 'prometheus']);
  });
});
