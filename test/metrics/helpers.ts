/**
 * Helpers shared by the metrics tests: reading exposition text, ports, child processes, the
 * dashboard's queries and a real Prometheus.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One sample of Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses `name{label="value",...} number` lines; comments and blank lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;

    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);

    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels`. */
export function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match`);
  return found[0]?.value;
}

/** A loopback port that was free a moment ago (bound, read, released). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** How a finished command ended. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end, feeding `input` on stdin; killed after `timeoutMs`.
 * Resolves with code null when the command could not be started (e.g. not installed).
 */
export function runCommand(
  command: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ code: null, stdout, stderr: String(error) }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command that exits without reading its input (or never started) breaks the pipe.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** The Grafana dashboard and Prometheus files under deploy/. */
export const DEPLOY_FILES = {
  dashboard: fileURLToPath(
    new URL('../../deploy/grafana/dashboards/attention-sweep.json', import.meta.url),
  ),
  alerts: fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url)),
  prometheusConfig: fileURLToPath(
    new URL('../../deploy/prometheus/prometheus.yml', import.meta.url),
  ),
};

/** What the dashboard's Grafana variables stand for in test queries. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '1m',
  $__range: '1h',
  $sweep: '.*',
  $worker: '.*',
};

/** One query of the dashboard, with its Grafana variables replaced. */
export interface DashboardQuery {
  /** `panel "<title>" query <refId>`. */
  where: string;
  promql: string;
}

/**
 * Every query of the dashboard as PromQL. Throws for a Grafana variable this table does not
 * know.
 */
export async function dashboardQueries(file = DEPLOY_FILES.dashboard): Promise<DashboardQuery[]> {
  const dashboard = JSON.parse(await readFile(file, 'utf8')) as {
    panels: { title: string; targets: { refId: string; expr: string }[] }[];
  };
  return dashboard.panels.flatMap((panel) =>
    panel.targets.map((target) => ({
      where: `panel "${panel.title}" query ${target.refId}`,
      promql: toPromQL(target.expr),
    })),
  );
}

/** Replaces the dashboard's Grafana variables; throws for one it does not know. */
export function toPromQL(expression: string): string {
  let promql = expression;
  const names = Object.keys(GRAFANA_VARIABLES).sort((a, b) => b.length - a.length);
  for (const name of names) promql = promql.replaceAll(name, GRAFANA_VARIABLES[name] as string);

  const unknown = /\$\w+/.exec(promql);
  if (unknown !== null) {
    throw new Error(`a Grafana variable the tests do not know (${unknown[0]}) in: ${expression}`);
  }
  return promql;
}

/** An instant query's answer. */
export interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

/** A Prometheus server started for a test. */
export interface TestPrometheus {
  url: string;
  /** An instant query at the current time. */
  query(promql: string): Promise<QueryAnswer>;
  /**
   * A range query from `start` to `end` (Unix seconds) evaluated every `step` seconds: it
   * finds data that existed for a moment, after its series went stale.
   */
  queryRange(
    promql: string,
    range: { start: number; end: number; step: number },
  ): Promise<QueryAnswer>;
  /** The last 4,000 characters Prometheus wrote to stderr. */
  log(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts Debian's `prometheus` (set up by scripts/setup.sh) on a free loopback port with a
 * config of `scrape_configs` (and `rule_files`), scraping and evaluating every second, its
 * data in a temp folder, and waits until it is ready (at most 20 s).
 */
export async function startPrometheus(config: {
  scrapeConfigs: object[];
  ruleFiles?: string[];
}): Promise<TestPrometheus> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'sweep-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const configFile = path.join(workDir, 'prometheus.yml');
  await writeFile(
    configFile,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: config.ruleFiles ?? [],
      scrape_configs: config.scrapeConfigs,
    }),
  );

  let log = '';
  const child = spawn(
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
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  child.on('error', (error) => {
    log += `\ncould not start prometheus: ${String(error)}; run npm run setup`;
  });

  let stopping: Promise<void> | undefined;
  const prometheus: TestPrometheus = {
    url,
    query: async (promql) => {
      const answer = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      return (await answer.json()) as QueryAnswer;
    },
    queryRange: async (promql, { start, end, step }) => {
      const params = new URLSearchParams({
        query: promql,
        start: String(start),
        end: String(end),
        step: String(step),
      });
      const answer = await fetch(`${url}/api/v1/query_range?${params}`);
      return (await answer.json()) as QueryAnswer;
    },
    log: () => log,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const forced = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(forced);
        }
        await rm(workDir, { recursive: true, force: true });
      })()),
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) return prometheus;
    if (Date.now() > deadline || child.exitCode !== null) {
      await prometheus.stop();
      throw new Error(`Prometheus did not get ready within 20 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
