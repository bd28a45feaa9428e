/**
 * `sweep worker`: runs trials for sweeps on one task queue until stopped. SIGTERM or Ctrl-C
 * drains it: running trials stop, and their next attempt (here or on another worker)
 * resumes from the last epoch's checkpoint.
 *
 * It records the trials of tracked sweeps in MLflow (`--tracking-uri`, `MLFLOW_TRACKING_URI`,
 * or the state folder's embedded server when Temporal is embedded too) and serves Prometheus
 * metrics: ours on `--metrics-port` (default 9464), the Temporal SDK's on the next port.
 */
import { availableParallelism } from 'node:os';

import type { Argv, CommandModule } from 'yargs';

import { ConfigError } from '../../lib/errors.js';
import type { TemporalFlags } from '../../temporal/config.js';
import { DEFAULT_TASK_QUEUE, noopTrialMs, openSession } from '../../temporal/session.js';
import type { WatchOutput } from '../../temporal/watch.js';
import { DEFAULT_METRICS_PORT } from '../../metrics/server.js';
import { resolveTrackingSettings, type TrackingFlags } from '../../tracking/config.js';
import { openTracking, type TrackingSession } from '../../tracking/session.js';
import {
  startTelemetryFromFlags,
  telemetryLine,
  type MetricsFlags,
  type WorkerTelemetry,
} from '../../workers/telemetry.js';
import { createSweepWorker, defaultSlots, threadsPerTrial } from '../../workers/worker.js';
import type { TrialKind } from '../../workflows/types.js';
import { withMetricsOptions, withTemporalOptions, withTrackingOptions } from './start.js';

/** Options of `sweep worker`. */
export interface WorkerOptions extends TemporalFlags, TrackingFlags, MetricsFlags {
  /** Trials run at once; default one per GPU, else max(1, floor(cores / 2)). */
  slots?: number;
  /** Comma-separated CUDA device ids; each slot gets one as CUDA_VISIBLE_DEVICES. */
  gpus?: string;
  taskQueue: string;
  trialKind: TrialKind;
}

export const workerCommand: CommandModule<object, WorkerOptions> = {
  command: 'worker',
  describe: 'Run trials for sweeps until stopped (SIGTERM drains)',
  builder: (yargs) =>
    withMetricsOptions(
      withTrackingOptions(withTemporalOptions(yargs as Argv<object>)),
      DEFAULT_METRICS_PORT,
    )
      .option('slots', {
        type: 'number',
        describe: 'trials at once (default: one per GPU, else cores / 2)',
      })
      .option('gpus', { type: 'string', describe: 'CUDA device ids, e.g. 0,1 (one per slot)' })
      .option('task-queue', {
        type: 'string',
        default: DEFAULT_TASK_QUEUE,
        describe: 'task queue to poll (the spec\'s execution.taskQueue)',
      })
      .option('trial-kind', {
        type: 'string',
        choices: ['train', 'noop'],
        default: 'train',
        hidden: true,
      })
      .example('$0 worker --temporal-address temporal.lab:7233', 'add this machine to a cluster')
      .example('$0 worker --gpus 0,1 --temporal-address temporal.lab:7233', 'one trial per GPU')
      .example(
        '$0 worker --temporal-address temporal.lab:7233 --tracking-uri http://mlflow.lab:5000',
        'record trials in the lab\'s MLflow',
      )
      .example('$0 worker --slots 1', 'one trial at a time on the embedded server') as unknown as
      Argv<WorkerOptions>,
  handler: async (argv) => {
    await worker(argv);
  },
};

/**
 * Parses and checks `--slots` and `--gpus`, listing every problem at once.
 *
 * @throws ConfigError naming each flag, its constraint and the value received.
 */
export function workerSlots(options: Pick<WorkerOptions, 'slots' | 'gpus'>): {
  slots: number;
  gpus: string[];
} {
  const problems: string[] = [];
  const gpus = (options.gpus ?? '').split(',').map((id) => id.trim()).filter((id) => id !== '');

  for (const id of gpus) {
    if (!/^\d+$/.test(id)) problems.push(`--gpus takes device numbers like 0,1; got "${id}"`);
  }
  if (options.slots !== undefined && (!Number.isInteger(options.slots) || options.slots < 1)) {
    problems.push(`--slots must be a whole number of at least 1, got ${options.slots}`);
  }

  if (problems.length > 0) {
    throw new ConfigError(problems.join('\n'), { hint: 'See: sweep worker --help' });
  }
  return { slots: options.slots ?? defaultSlots({ gpus }), gpus };
}

/**
 * Runs `sweep worker` until SIGINT or SIGTERM.
 *
 * @throws ConfigError for bad `--slots` or `--gpus`, a metrics port in use, or no MLflow
 *   server on a Temporal cluster (pass `--tracking-uri`, or `--no-tracking`).
 */
export async function worker(
  options: WorkerOptions,
  out: WatchOutput = process.stdout,
): Promise<void> {
  const { slots, gpus } = workerSlots(options);
  const threads = threadsPerTrial(slots);
  const session = await openSession(options);
  let telemetry: WorkerTelemetry | null = null;
  let tracking: TrackingSession | null = null;

  try {
    // Before the first worker connection: the SDK's metrics are set up with the Runtime.
    telemetry = await startTelemetryFromFlags(options, {
      slots,
      defaultPort: DEFAULT_METRICS_PORT,
    });
    // No-op trials (a test knob) record nothing.
    const trackingFlags = options.trialKind === 'noop' ? { tracking: false } : options;
    tracking = await openTracking(resolveTrackingSettings(trackingFlags), {
      stateDir: session.stateDir,
      temporalAddress: session.embedded ? null : session.address,
      command: 'sweep worker',
    });

    const sweepWorker = await createSweepWorker({
      connection: await session.nativeConnection(),
      namespace: session.namespace,
      taskQueue: options.taskQueue,
      trials: {
        stateDir: session.stateDir,
        kind: options.trialKind,
        slots,
        gpus,
        threadsPerTrial: threads,
        noop: { durationMs: noopTrialMs() },
        tracking: tracking?.client ?? null,
        metrics: telemetry?.metrics ?? null,
      },
    });

    const devices =
      gpus.length === 0 ? `CPU (${availableParallelism()} cores)` : `GPUs ${gpus.join(',')}`;
    out.write(
      `worker on ${session.address}, namespace ${session.namespace}, task queue ` +
        `${options.taskQueue}: ${slots} slot(s), ${threads} thread(s) per trial, ${devices}\n` +
        `run folders in ${session.stateDir}/runs; stop with Ctrl-C or SIGTERM (trials resume ` +
        'from their checkpoint)\n' +
        `UI: ${session.uiBase}\n` +
        `MLflow: ${tracking === null ? 'off (trials are not recorded)' : tracking.url}\n` +
        `${telemetryLine(telemetry)}\n`,
    );

    await sweepWorker.run();
    out.write('worker stopped\n');
  } finally {
    await telemetry?.close();
    await tracking?.close();
    await session.close();
  }
}
