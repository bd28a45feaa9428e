/**
 * The dashboard and the alert rules against a real Prometheus (Debian's `prometheus`, set up
 * by scripts/setup.sh) scraping a real metrics server every second, plus promtool's checks.
 *
 * Temporal SDK metrics (temporal_*) exist only while a real worker polls a real server, so
 * their queries are only required to parse here.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { parse as parseYaml } from 'yaml';

import { tf } from '../../lib/tf.js';
import { startMetricsServer, type MetricsServer } from '../../metrics/server.js';
import { TEMPORAL_SDK_METRICS } from '../../metrics/temporal-telemetry.js';
import {
  createWorkerMetrics,
  type TrialOutcomeLabel,
  type WorkerMetrics,
} from '../../metrics/worker-metrics.js';
import { freePort, runCommand } from './helpers.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const deploy = (...parts: string[]) => path.join(repo, 'deploy', ...parts);
const DASHBOARD = deploy('grafana', 'dashboards', 'attention-sweep.json');
const ALERTS = deploy('prometheus', 'alerts.yml');
const PROMETHEUS_CONFIG = deploy('prometheus', 'prometheus.yml');

/** What the dashboard's Grafana variables stand for in these queries. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '1m',
  $__range: '1h',
  $sweep: '.*',
  $worker: '.*',
};

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

interface DashboardQuery {
  where: string;
  promql: string;
}

let metrics: WorkerMetrics;
let server: MetricsServer;
let prometheus: ChildProcess | null = null;
let prometheusLog = '';
let prometheusUrl = '';
let workDir = '';
let kept: { dispose(): void } | null = null;

async function query(promql: string): Promise<QueryAnswer> {
  const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`;
  return (await (await fetch(url)).json()) as QueryAnswer;
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
  assert.fail(`timed out after ${limitMs} ms waiting for ${what}\nprometheus:\n${prometheusLog}`);
}

/** Scrapes of the metrics server Prometheus has stored. */
async function scrapesSoFar(): Promise<number> {
  const instance = `127.0.0.1:${server.port}`;
  return await scalar(`count_over_time(up{job="sweep-workers", instance="${instance}"}[5m])`);
}

function toPromQL(expression: string): string {
  let promql = expression;
  const names = Object.keys(GRAFANA_VARIABLES).sort((a, b) => b.length - a.length);
  for (const name of names) promql = promql.replaceAll(name, GRAFANA_VARIABLES[name] as string);

  const unknown = /\$\w+/.exec(promql);
  assert.equal(unknown, null, `a Grafana variable the test does not know in: ${expression}`);
  return promql;
}

async function dashboardQueries(): Promise<DashboardQuery[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets: { refId: string; expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      where: `panel "${panel.title}" query ${target.refId}`,
      promql: toPromQL(target.expr),
    })),
  );
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

    workDir = await mkdtemp(path.join(tmpdir(), 'sweep-prometheus-test-'));
    const port = await freePort();
    const deadPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;

    // The deploy config's job names and rules, with this test's targets, scraped every second.
    // The second target never answers, so up == 0 exists for the worker-down alert.
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [ALERTS],
      scrape_configs: [
        {
          job_name: 'sweep-workers',
          static_configs: [
            { targets: [`127.0.0.1:${server.port}`, `127.0.0.1:${deadPort}`] },
          ],
        },
      ],
    };
    const configFile = path.join(workDir, 'prometheus.yml');
    await writeFile(configFile, JSON.stringify(config));

    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${path.join(workDir, 'data')}`,
        '--storage.tsdb.retention.time=1h',
        '--storage.tsdb.retention.size=64MB',
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      prometheusLog = (prometheusLog + chunk.toString()).slice(-4000);
    });
    prometheus.on('error', (error) => {
      prometheusLog += `\ncould not start prometheus: ${String(error)}; run npm run setup`;
    });

    await waitFor('Prometheus to be ready', async () => {
      return (await fetch(`${prometheusUrl}/-/ready`)).ok;
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
    if (prometheus !== null && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const forced = setTimeout(() => prometheus?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(forced);
    }
    await server?.close();
    kept?.dispose();
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
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
      const answer = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as {
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

    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
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
