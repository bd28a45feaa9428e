/**
 * `sweep start <spec>`: plans the spec and starts its sweep on Temporal, or attaches to it
 * when it is already running (same spec = same sweep id = same workflow). Without a Temporal
 * address it runs everything here: the embedded dev server, an embedded MLflow server (unless
 * a tracking URI is configured) and a worker, until the sweep ends.
 *
 * MLflow: the sweep's parent run is created (or found again) here, before the workflow
 * starts, and its ids travel in the workflow input; trials record their child runs from the
 * workers; the workflow's last activity (`finishSweepRun`) ends the parent run, so a
 * detached sweep or one on remote workers is finished too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';

import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Argv, CommandModule } from 'yargs';

import { preflightDataset } from '../../data/preflight.js';
import { ConfigError } from '../../lib/errors.js';
import { loadSpec } from '../../spec/load.js';
import { planTrials } from '../../spec/plan.js';
import { resolveTemporalSettings, type TemporalFlags } from '../../temporal/config.js';
import { openTemporal, type TemporalSession } from '../../temporal/connection.js';
import { renderSummary } from '../../temporal/format.js';
import { withWorker, type TrialRunFlags } from '../../temporal/session.js';
import {
  hasTrialWorkers,
  readSweepStatus,
  startSweep,
  sweepRequestFromPlan,
} from '../../temporal/sweeps.js';
import { WatchInterruptedError, watchSweep, type WatchOutput } from '../../temporal/watch.js';
import { resolveTrackingSettings, type TrackingFlags } from '../../tracking/config.js';
import { openTracking, type TrackingSession } from '../../tracking/session.js';
import { SweepRecorder } from '../../tracking/sweep-run.js';
import {
  startTelemetryFromFlags,
  telemetryLine,
  type MetricsFlags,
  type WorkerTelemetry,
} from '../../workers/telemetry.js';
import { defaultSlots } from '../../workers/worker.js';
import { EXIT, ExitError } from '../exit.js';
import { plan } from './plan.js';

/** Options of `sweep start`. */
export interface StartOptions extends TemporalFlags, TrialRunFlags, TrackingFlags, MetricsFlags {
  /** Path of the spec file. */
  spec: string;
  /** Start (or attach) and return at once; the sweep goes on without this command. */
  detach: boolean;
  /** Print the plan and start nothing. */
  dryRun: boolean;
}

/** Marks the background process of an embedded `--detach` (it must not detach again). */
const BACKGROUND_ENV = 'SWEEP_BACKGROUND_RUN';

export const startCommand: CommandModule<object, StartOptions> = {
  command: 'start <spec>',
  describe: 'Start a sweep (or attach to it) and follow it until it ends',
  builder: (yargs) =>
    withMetricsOptions(withTrackingOptions(withTemporalOptions(yargs as Argv<object>)), 0)
      .positional('spec', { type: 'string', demandOption: true, describe: 'sweep spec (YAML)' })
      .option('detach', {
        type: 'boolean',
        default: false,
        describe: 'start and return; follow later with `sweep status <id> --watch`',
      })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print the plan only' })
      .option('slots', {
        type: 'number',
        describe: 'trials this machine runs at once (embedded mode; default cores / 2)',
      })
      .option('trial-kind', { type: 'string', choices: ['train', 'noop'], hidden: true })
      .example('$0 start sweeps/quick.yaml', 'run the quick sweep here, embedded server and all')
      .example(
        '$0 start sweeps/quick.yaml --tracking-uri http://127.0.0.1:5000',
        'record in an MLflow server that is already running',
      )
      .example('$0 start sweeps/dropout.yaml --dry-run', 'list the trials without starting')
      .example('$0 start sweeps/dropout.yaml --detach', 'start it in the background')
      .example(
        '$0 start sweeps/dropout.yaml --temporal-address temporal.lab:7233',
        'start it on a cluster whose workers run `sweep worker`',
      ) as unknown as Argv<StartOptions>,
  handler: async (argv) => {
    await start(argv);
  },
};

/** The `--temporal-address` and `--namespace` options every Temporal command takes. */
export function withTemporalOptions<T>(yargs: Argv<T>): Argv<T & TemporalFlags> {
  return yargs
    .option('temporal-address', {
      type: 'string',
      describe: 'Temporal frontend host:port (default: $TEMPORAL_ADDRESS, sweep.config.yaml, ' +
        'else an embedded dev server)',
    })
    .option('namespace', {
      type: 'string',
      describe: 'Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)',
    }) as unknown as Argv<T & TemporalFlags>;
}

/** The `--tracking-uri` option of commands that use MLflow. */
export function withTrackingUriOption<T>(yargs: Argv<T>): Argv<T & TrackingFlags> {
  return yargs.option('tracking-uri', {
    type: 'string',
    describe: 'MLflow server URL (default: $MLFLOW_TRACKING_URI, sweep.config.yaml ' +
      'trackingUri, else an embedded server next to the embedded Temporal server)',
  }) as unknown as Argv<T & TrackingFlags>;
}

/** The `--tracking-uri` and `--no-tracking` options of commands that record in MLflow. */
export function withTrackingOptions<T>(yargs: Argv<T>): Argv<T & TrackingFlags> {
  return withTrackingUriOption(yargs)
    .option('tracking', {
      type: 'boolean',
      default: true,
      describe: 'record trials in MLflow (--no-tracking: record nothing)',
    }) as unknown as Argv<T & TrackingFlags>;
}

/**
 * The metrics options of commands that run a worker. `defaultPort` is 9464 for
 * `sweep worker` (what Prometheus is configured to scrape) and 0 (free ports, printed) for
 * the in-process worker of `start` and `resume`, so that two of them never collide.
 */
export function withMetricsOptions<T>(yargs: Argv<T>, defaultPort: number): Argv<T & MetricsFlags> {
  return yargs
    .option('metrics-port', {
      type: 'number',
      default: defaultPort,
      describe: 'Prometheus metrics port of the worker; the Temporal SDK metrics use the next ' +
        'port; 0 picks free ports',
    })
    .option('metrics-host', {
      type: 'string',
      describe: 'address the metrics listen on (default: $SWEEP_METRICS_HOST, else 127.0.0.1)',
    })
    .option('metrics', {
      type: 'boolean',
      default: true,
      describe: 'serve Prometheus metrics (--no-metrics: none)',
    }) as unknown as Argv<T & MetricsFlags>;
}

/**
 * Runs `sweep start`.
 *
 * @throws SpecError for a spec that cannot be used.
 * @throws DatasetError for a dataset that cannot be used (checked before anything starts).
 * @throws ExitError: exit 1 when trials failed or were cancelled, 130 when Ctrl-C stopped the
 *   watch.
 */
export async function start(
  options: StartOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const loaded = await loadSpec(options.spec);
  const sweepPlan = planTrials(loaded);

  if (options.dryRun) {
    out.write(await plan({ spec: options.spec, json: false, full: false }));
    out.write('dry run: nothing started\n');
    return;
  }

  // Refuse a bad dataset before anything starts (no server, no workflow, no state folder).
  await preflightDataset(loaded);

  const { request, memo } = sweepRequestFromPlan(loaded, sweepPlan);
  // No-op trials (a test knob) train nothing, so they record nothing either.
  const trackingFlags = options.trialKind === 'noop' ? { tracking: false } : options;
  const { session, tracking } = await openServices(options, trackingFlags, 'sweep start');

  try {
    const uiLink = session.uiLink(request.sweepId);

    // A finished sweep is left alone, its MLflow run included (`sweep resume` re-opens it).
    if (tracking !== null && !(await sweepIsClosed(session.client, request.sweepId))) {
      const recorder = await SweepRecorder.start({
        client: tracking.client,
        plan: sweepPlan,
        spec: loaded,
        temporalWorkflowUrl: uiLink,
      });
      request.tracking = recorder.ref;
      memo.mlflowRunUrl = tracking.runLink(recorder.ref.experimentId, recorder.ref.parentRunId);
    }

    const started = await startSweep(session.client, request, memo);
    out.write(`${startLine(started.outcome, request.sweepId, request.trials.length, session)}\n`);
    out.write(`UI: ${uiLink}\n`);
    if (memo.mlflowRunUrl !== undefined) out.write(`MLflow: ${memo.mlflowRunUrl}\n`);

    if (started.outcome === 'closed') {
      const view = await readSweepStatus(session.client, request.sweepId);
      out.write(`${renderSummary(view, uiLink)}\n`);
      writeMlflowLine(out, view.memo.mlflowRunUrl);
      return;
    }

    if (options.detach && process.env[BACKGROUND_ENV] === undefined) {
      await detach(session, tracking, options, request.sweepId, out);
      return;
    }

    if (!session.embedded && !(await hasTrialWorkers(session.client, request.taskQueue))) {
      out.write(
        `warning: no worker polls task queue ${request.taskQueue}; trials wait until one ` +
          `does: sweep worker --temporal-address ${session.address} --task-queue ` +
          `${request.taskQueue}\n`,
      );
    }

    const telemetry = await followTelemetry(session, options, out);
    try {
      await follow(session, request.sweepId, request.taskQueue, options, out, {
        continueCommand: `sweep start ${options.spec}`,
        tracking,
        telemetry,
      });
    } finally {
      await telemetry?.close();
    }
  } finally {
    await tracking?.close();
    await session.close();
  }
}

/**
 * Opens Temporal and MLflow: at once for a cluster; for the embedded servers Temporal first
 * (2-3 s), then MLflow (6-8 s). On failure, whatever did open is closed again.
 *
 * @throws whatever `openTemporal` or `openTracking` throws.
 */
export async function openServices(
  temporalFlags: TemporalFlags,
  trackingFlags: TrackingFlags,
  command: string,
): Promise<{ session: TemporalSession; tracking: TrackingSession | null }> {
  const temporalSettings = resolveTemporalSettings(temporalFlags);
  const trackingSettings = resolveTrackingSettings(trackingFlags);
  const openMlflow = () =>
    openTracking(trackingSettings, {
      stateDir: temporalSettings.stateDir,
      temporalAddress: temporalSettings.address,
      command,
    });

  // The embedded Temporal server first: when it cannot start (its port taken), no MLflow
  // server is started and no MLflow store is made for nothing. It costs its 2-3 s once.
  if (temporalSettings.address === null) {
    const session = await openTemporal(temporalSettings);
    try {
      return { session, tracking: await openMlflow() };
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  const [session, tracking] = await Promise.allSettled([
    openTemporal(temporalSettings),
    openMlflow(),
  ]);

  if (session.status === 'fulfilled' && tracking.status === 'fulfilled') {
    return { session: session.value, tracking: tracking.value };
  }

  if (session.status === 'fulfilled') await session.value.close();
  if (tracking.status === 'fulfilled') await tracking.value?.close();

  // A setting to fix (no MLflow for a cluster) says more than a server that is down.
  if (tracking.status === 'rejected' && tracking.reason instanceof ConfigError) {
    throw tracking.reason;
  }
  throw session.status === 'rejected' ? session.reason : (tracking as PromiseRejectedResult).reason;
}

/**
 * Starts the in-process worker's metrics (embedded mode only: on a cluster no worker runs
 * here) and prints where they are. Call it before the first worker connection.
 *
 * @throws ConfigError when a metrics port is in use.
 */
export async function followTelemetry(
  session: TemporalSession,
  options: MetricsFlags & TrialRunFlags,
  out: WatchOutput,
): Promise<WorkerTelemetry | null> {
  if (!session.embedded) return null;

  const slots = options.slots ?? defaultSlots();
  const telemetry = await startTelemetryFromFlags(options, { slots, defaultPort: 0 });
  out.write(`${telemetryLine(telemetry)}\n`);
  return telemetry;
}

/** Prints the MLflow line when the sweep is tracked. */
export function writeMlflowLine(out: WatchOutput, link: string | undefined): void {
  if (link !== undefined) out.write(`MLflow: ${link}\n`);
}

/** Whether the sweep's workflow exists and has closed. */
async function sweepIsClosed(client: Client, sweepId: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(sweepId).describe();
    return description.status.name !== 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * Follows a sweep to its end, running the in-process worker in embedded mode, then prints
 * the summary. Shared by `start` and `resume`.
 *
 * @throws ExitError: exit 1 when trials failed or were cancelled, 130 when Ctrl-C stopped the
 *   watch.
 */
export async function follow(
  session: TemporalSession,
  sweepId: string,
  taskQueue: string,
  run: TrialRunFlags,
  out: WatchOutput,
  extras: {
    /** Printed when the watch is stopped, to continue the sweep. */
    continueCommand: string;
    /** MLflow for the in-process worker's trials; null when untracked. */
    tracking: TrackingSession | null;
    /** The in-process worker's metrics. */
    telemetry: WorkerTelemetry | null;
  },
): Promise<void> {
  const uiLink = session.uiLink(sweepId);
  const trials = {
    tracking: extras.tracking?.client ?? null,
    metrics: extras.telemetry?.metrics ?? null,
  };

  let view;
  try {
    view = await withWorker(session, { need: 'trials', taskQueue, run, trials }, (signal) =>
      watchSweep({ client: session.client, sweepId, uiLink, out, signal, view: 'live' }),
    );
  } catch (error) {
    if (!(error instanceof WatchInterruptedError)) throw error;

    const where = session.embedded
      ? `the sweep is saved in ${session.stateDir}; continue it with: ${extras.continueCommand}`
      : `the sweep goes on on ${session.address}; follow it with: sweep status ${sweepId} --watch`;
    throw new ExitError(`stopped; ${where}`, EXIT.interrupted);
  }

  out.write(`${renderSummary(view, uiLink)}\n`);
  writeMlflowLine(out, view.memo.mlflowRunUrl);
  const unfinished = view.counts.failed + view.counts.cancelled;
  if (unfinished > 0 || view.status !== 'COMPLETED') {
    throw new ExitError(
      `${unfinished} trial(s) did not finish; re-run them with: sweep resume ${sweepId}`,
      EXIT.failure,
    );
  }
}

function startLine(
  outcome: 'started' | 'attached' | 'closed',
  sweepId: string,
  trials: number,
  session: TemporalSession,
): string {
  const where = session.embedded ? `embedded server ${session.address}` : session.address;
  const count = trials === 1 ? '1 trial' : `${trials} trials`;
  if (outcome === 'started') return `started sweep ${sweepId}: ${count} on ${where}`;
  if (outcome === 'attached') return `sweep ${sweepId} is already running on ${where}; attached`;
  return `sweep ${sweepId} has already finished on ${where}`;
}

/**
 * `--detach`. On a cluster the sweep already runs on its workers. In embedded mode the
 * server and a worker must outlive this command, so a background `sweep start` takes over;
 * it joins the server before this command leaves it, so the server never stops in between.
 */
async function detach(
  session: TemporalSession,
  tracking: TrackingSession | null,
  options: StartOptions,
  sweepId: string,
  out: WatchOutput,
): Promise<void> {
  if (!session.embedded) {
    out.write(`detached; follow it with: sweep status ${sweepId} --watch\n`);
    return;
  }

  const logDir = join(session.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${sweepId}.log`);
  const logFd = openSync(logFile, 'a');

  const args = process.argv.slice(1).filter((arg) => arg !== '--detach');
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, [BACKGROUND_ENV]: '1' },
  });
  closeSync(logFd);
  child.unref();

  // It also joins the embedded MLflow server, when there is one, before this command leaves.
  const registrations = [join(session.stateDir, 'temporal-clients', String(child.pid))];
  if (tracking?.embedded === true) {
    registrations.push(join(session.stateDir, 'mlflow-clients', String(child.pid)));
  }
  const registered = (): boolean => registrations.every((file) => existsSync(file));

  const deadline = Date.now() + 120_000;
  while (!registered() && child.exitCode === null && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (!registered()) {
    throw new ExitError(`the background run did not start; see ${logFile}`, EXIT.failure);
  }

  out.write(
    `detached: pid ${child.pid} runs the sweep here, log ${logFile}\n` +
      `follow it with: sweep status ${sweepId} --watch; stop it with: sweep cancel ${sweepId}\n`,
  );
}
