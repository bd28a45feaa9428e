/**
 * The sweep worker: polls one task queue for sweep and chunk workflow tasks and, unless it is
 * a workflows-only worker, for trial activities, running at most `slots` trials at once.
 */
import { availableParallelism } from 'node:os';

import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';

import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';
import { createSweepActivities } from '../activities/sweep-run.js';
import { createTrialActivities, type TrialActivityOptions } from '../activities/trial.js';
import { loadWorkflowBundle } from './bundle.js';
import { installRuntime } from './runtime.js';

/** Options of {@link createSweepWorker}. */
export interface SweepWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /**
   * `full` (default) runs workflows and trials. `workflows` answers workflow tasks, queries
   * and updates only, leaving trials queued for real workers.
   */
  role?: 'full' | 'workflows';
  /**
   * How trials run; required for the `full` role. `slots` caps concurrent trials; `tracking`
   * (the worker's MLflow client) also ends tracked sweeps' parent runs; `metrics` are fed by
   * every trial.
   */
  trials?: TrialActivityOptions;
  /** Prebuilt workflow bundle; default the cached bundle of `workflows/`. */
  bundle?: WorkflowBundle;
}

/**
 * Slots a worker offers by default: one per listed GPU, else max(1, floor(cores / 2)), since
 * a training process keeps about two cores busy (compute plus data pipeline).
 */
export function defaultSlots(options: { gpus?: string[]; cores?: number } = {}): number {
  const gpus = options.gpus ?? [];
  if (gpus.length > 0) return gpus.length;
  return Math.max(1, Math.floor((options.cores ?? availableParallelism()) / 2));
}

/**
 * TensorFlow threads each trial gets: max(1, floor(cores / slots)), so the trials of one
 * worker share its cores instead of each claiming all of them.
 */
export function threadsPerTrial(slots: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / slots));
}

/**
 * Creates (does not run) a sweep worker. Run it with `worker.run()` or `runUntil()`; SIGINT
 * and SIGTERM drain it: running trials are stopped, and their next attempt resumes from the
 * last checkpoint, on this or another worker.
 *
 * @throws ConfigError for the `full` role without trial options.
 */
export async function createSweepWorker(options: SweepWorkerOptions): Promise<Worker> {
  installRuntime();
  const role = options.role ?? 'full';

  if (role === 'full' && options.trials === undefined) {
    throw new ConfigError('a full sweep worker needs trial options (state folder, slots)');
  }

  const bundle = options.bundle ?? (await loadWorkflowBundle());
  const slots = options.trials?.slots ?? 1;

  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: bundle,
    ...(role === 'full' && options.trials !== undefined
      ? {
          activities: {
            ...createTrialActivities(options.trials),
            ...createSweepActivities({ tracking: options.trials.tracking ?? null }),
          },
          // Also caps the sweep-level activity, which then waits for a free slot: a worker
          // must never take more trials than it has slots (one GPU each).
          maxConcurrentActivityTaskExecutions: slots,
        }
      : {}),
    // Cancellation reaches an activity only in a heartbeat's answer; cap the SDK's throttle
    // so a cancel or drain is seen within about two seconds, whatever the heartbeat timeout.
    maxHeartbeatThrottleInterval: '2s',
    // On shutdown, cancel running trials at once (they checkpoint every epoch) and give
    // their processes time to exit before giving up.
    shutdownGraceTime: 0,
    shutdownForceTime: '60s',
  });

  logger.info(
    { taskQueue: options.taskQueue, namespace: options.namespace, role, slots },
    'worker ready',
  );
  return worker;
}

