/**
 * The sweep worker's own Prometheus metrics: trials started and finished, slots, epoch times,
 * training throughput, best validation accuracy, TensorFlow memory and Node's process metrics.
 *
 * Every call to {@link createWorkerMetrics} builds its metrics in its own registry, so a
 * process (or a test) can build them any number of times without name clashes.
 *
 * Labels stay bounded:
 * - `worker` on every series: one value per worker process (default: the host name).
 * - `sweep`: one value per sweep this worker has run a trial of, kept until the process exits.
 *   A worker that lives through hundreds of sweeps carries hundreds of series per sweep-labelled
 *   metric (about 30 each, mostly histogram buckets); restart long-lived workers now and then.
 * - `outcome`: the five values of {@link TRIAL_OUTCOMES}.
 * - `slot`: 0 .. slots - 1. `process`: `worker` or `trials`.
 * Trial ids are never labels; they belong in logs and MLflow.
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { ConfigError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';

/**
 * How a trial attempt ended, as the `outcome` label of `sweep_trials_finished_total`:
 * - `succeeded`: the trial trained and reported its result;
 * - `failed`: a non-retryable failure (bad config, diverged loss); the trial is over;
 * - `retried`: a retryable failure (crashed process, network); Temporal schedules another
 *   attempt unless the retry policy is spent, so some `retried` end the trial after all;
 * - `cancelled`: the sweep or the trial was cancelled;
 * - `handed_back`: the worker shut down mid-trial; another attempt resumes from the checkpoint.
 */
export const TRIAL_OUTCOMES = [
  'succeeded',
  'failed',
  'retried',
  'cancelled',
  'handed_back',
] as const;

/** One of {@link TRIAL_OUTCOMES}. */
export type TrialOutcomeLabel = (typeof TRIAL_OUTCOMES)[number];

/** Buckets of `sweep_epoch_duration_seconds`: 1 s to an hour. */
export const EPOCH_DURATION_BUCKETS_SECONDS = [
  1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600,
];

/** Buckets of `sweep_trial_duration_seconds`: 1 s (no-op trials) to a day. */
export const TRIAL_DURATION_BUCKETS_SECONDS = [
  1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400,
];

/** prom-client default metrics left out: gauges with a counter's `_total` suffix. */
const LINTED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Live tensors and the bytes they hold, as `tf.memory()` reports them. */
export interface TensorMemory {
  numTensors: number;
  numBytes: number;
}

/** Options of {@link createWorkerMetrics}. */
export interface WorkerMetricsOptions {
  /**
   * Value of the `worker` label on every series of the registry; default the host name (the
   * pod name on Kubernetes, the container id under Docker).
   */
  workerId?: string;

  /**
   * Registry to register into; default a new one. A registry that already holds these
   * metrics throws a ConfigError. Note that `worker` becomes a default label of the registry.
   */
  registry?: Registry;

  /**
   * Source of this process's tensor memory, read at every scrape; null reports none. Default:
   * `tf.memory()` when TensorFlow is already loaded in this process, else nothing (metrics
   * never load TensorFlow: the worker trains in child processes and has no tensors itself).
   */
  tensorMemory?: (() => TensorMemory | null) | null;

  /**
   * Also export Node's process metrics (`process_*`, `nodejs_*`, prom-client's defaults
   * without the three `nodejs_active_*_total` gauges); default true.
   */
  defaultMetrics?: boolean;
}

/** What a trial attempt reports when it ends. */
export interface TrialFinishedReport {
  /** Wall time of the attempt in seconds; a negative or non-finite value is not recorded. */
  durationSeconds: number;

  /** Slot the trial ran in (0-based); its throughput drops to 0 and its tensor count is cleared. */
  slot?: number;
}

/** What a trial reports after each epoch. */
export interface EpochReport {
  /** Wall time of the epoch in seconds; a negative or non-finite value is not recorded. */
  epochSeconds: number;

  /** Training images per second over the epoch; a non-finite value is not recorded. */
  imagesPerSecond: number;

  /** Validation accuracy (0-1) after the epoch; NaN leaves the sweep's best unchanged. */
  valAccuracy: number;

  /** Slot the trial runs in (0-based); default 0. Keeps concurrent trials apart. */
  slot?: number;

  /** The trial process's `tf.memory()` after the epoch, if it sent it. */
  tensorMemory?: TensorMemory;
}

/** The worker's metrics and the calls that feed them. */
export interface WorkerMetrics {
  /** The registry to serve (see `startMetricsServer`). */
  readonly registry: Registry;

  /**
   * A trial attempt started. The first call for a sweep also creates that sweep's series at 0,
   * so Prometheus's `increase()` counts its first failure and its first epoch.
   *
   * @throws ConfigError for an empty sweep id.
   */
  trialStarted(sweep: string): void;

  /**
   * A trial attempt ended. Counts it under `outcome`, records its duration and lowers the
   * running count.
   *
   * @throws ConfigError for an empty sweep id or an outcome outside {@link TRIAL_OUTCOMES}.
   */
  trialFinished(sweep: string, outcome: TrialOutcomeLabel, report: TrialFinishedReport): void;

  /**
   * An epoch ended: records its time, the slot's throughput, the sweep's best validation
   * accuracy and, when given, the trial process's tensor memory.
   *
   * @throws ConfigError for an empty sweep id or a slot that is not a whole number >= 0.
   */
  epochFinished(sweep: string, report: EpochReport): void;

  /**
   * The worker's trial slots: `total` offered, `busy` of them running a trial. Call it at
   * start and whenever a slot is taken or given back. Every slot below `total` gets a
   * throughput series (0 until its trial finishes an epoch), so an idle worker still shows
   * on the throughput panel, at 0, rather than vanishing from it.
   *
   * @throws ConfigError unless both are whole numbers with 0 <= busy <= total.
   */
  setSlots(total: number, busy: number): void;
}

/**
 * Builds the worker's metrics in a registry of their own (or the one given).
 *
 * Metric names (all with the `worker` label):
 * | name | type | labels |
 * |---|---|---|
 * | `sweep_trials_started_total` | counter | sweep |
 * | `sweep_trials_finished_total` | counter | sweep, outcome |
 * | `sweep_trials_running` | gauge | sweep |
 * | `sweep_trial_duration_seconds` | histogram | outcome |
 * | `sweep_worker_slots`, `sweep_worker_slots_free` | gauge | |
 * | `sweep_epoch_duration_seconds` | histogram (1 s .. 1 h) | sweep |
 * | `sweep_training_images_per_second` | gauge | slot |
 * | `sweep_best_val_accuracy_ratio` | gauge | sweep |
 * | `sweep_live_tensors`, `sweep_tensor_bytes` | gauge, read at scrape | process |
 * | `process_*`, `nodejs_*` | prom-client's defaults | |
 *
 * @throws ConfigError for a blank worker id, or a registry that already holds these metrics.
 */
export function createWorkerMetrics(options: WorkerMetricsOptions = {}): WorkerMetrics {
  const workerId = options.workerId ?? hostname();
  if (workerId.trim() === '') {
    const got = JSON.stringify(workerId);
    throw new ConfigError(`the metrics worker id must not be blank, got ${got}`, {
      hint: 'Leave it unset to use the host name.',
    });
  }

  const registry = options.registry ?? new Registry();
  registry.setDefaultLabels({ worker: workerId });

  try {
    return buildMetrics(registry, options);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`could not register the worker metrics: ${String(error)}`, {
      hint: 'Pass a registry that does not hold them yet, or none to get a fresh one.',
      cause: error,
    });
  }
}

function buildMetrics(registry: Registry, options: WorkerMetricsOptions): WorkerMetrics {
  const registers = [registry];
  const trialMemoryBySlot = new Map<number, TensorMemory>();
  const bestValAccuracy = new Map<string, number>();
  const knownSweeps = new Set<string>();
  const readOwnMemory =
    options.tensorMemory === undefined ? loadedTensorFlowMemory : options.tensorMemory;

  const started = new Counter({
    name: 'sweep_trials_started_total',
    help: 'Trial attempts this worker started.',
    labelNames: ['sweep'] as const,
    registers,
  });

  const finished = new Counter({
    name: 'sweep_trials_finished_total',
    help: 'Trial attempts this worker finished, by outcome.',
    labelNames: ['sweep', 'outcome'] as const,
    registers,
  });

  const running = new Gauge({
    name: 'sweep_trials_running',
    help: 'Trials running on this worker now.',
    labelNames: ['sweep'] as const,
    registers,
  });

  const trialDuration = new Histogram({
    name: 'sweep_trial_duration_seconds',
    help: 'Wall time of trial attempts, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: TRIAL_DURATION_BUCKETS_SECONDS,
    registers,
  });
  for (const outcome of TRIAL_OUTCOMES) trialDuration.zero({ outcome });

  const slots = new Gauge({
    name: 'sweep_worker_slots',
    help: 'Trial slots this worker offers (one per GPU on GPU workers).',
    registers,
  });

  const freeSlots = new Gauge({
    name: 'sweep_worker_slots_free',
    help: 'Trial slots of this worker not running a trial.',
    registers,
  });

  const epochDuration = new Histogram({
    name: 'sweep_epoch_duration_seconds',
    help: 'Wall time of training epochs (training plus validation).',
    labelNames: ['sweep'] as const,
    buckets: EPOCH_DURATION_BUCKETS_SECONDS,
    registers,
  });

  const imagesPerSecond = new Gauge({
    name: 'sweep_training_images_per_second',
    help: 'Training throughput of the trial in each slot over its last epoch; 0 while idle.',
    labelNames: ['slot'] as const,
    registers,
  });

  const bestAccuracy = new Gauge({
    name: 'sweep_best_val_accuracy_ratio',
    help: 'Best validation accuracy (0-1) any trial of the sweep reached on this worker.',
    labelNames: ['sweep'] as const,
    registers,
  });

  // Both gauges are filled at scrape time from the same two sources.
  const fillTensorGauges = (gauge: Gauge<'process'>, pick: (memory: TensorMemory) => number) => {
    gauge.reset();

    const own = readOwnMemory === null ? null : readOwnMemory();
    if (own !== null) gauge.set({ process: 'worker' }, pick(own));

    let trials = 0;
    for (const memory of trialMemoryBySlot.values()) trials += pick(memory);
    gauge.set({ process: 'trials' }, trials);
  };

  new Gauge({
    name: 'sweep_live_tensors',
    help: 'Live TensorFlow tensors: this process (worker) and its running trials (trials).',
    labelNames: ['process'] as const,
    registers,
    collect() {
      fillTensorGauges(this, (memory) => memory.numTensors);
    },
  });

  new Gauge({
    name: 'sweep_tensor_bytes',
    help: 'Bytes held by live TensorFlow tensors: this process and its running trials.',
    labelNames: ['process'] as const,
    registers,
    collect() {
      fillTensorGauges(this, (memory) => memory.numBytes);
    },
  });

  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });

    // Gauges named like counters, which `promtool check metrics` flags; the per-type series
    // (`nodejs_active_handles` and the others) carry the same numbers.
    for (const name of LINTED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }

  /** Slots that have a throughput series: those offered, and any a trial reported from. */
  const slotsWithSeries = new Set<number>();

  const clearSlot = (slot: number | undefined) => {
    if (slot === undefined) return;
    imagesPerSecond.set({ slot: String(slot) }, 0);
    slotsWithSeries.add(slot);
    trialMemoryBySlot.delete(slot);
  };

  return {
    registry,

    trialStarted(sweep) {
      checkSweep(sweep);
      if (!knownSweeps.has(sweep)) {
        knownSweeps.add(sweep);
        for (const outcome of TRIAL_OUTCOMES) finished.inc({ sweep, outcome }, 0);
        epochDuration.zero({ sweep });
      }

      started.inc({ sweep });
      running.inc({ sweep });
    },

    trialFinished(sweep, outcome, report) {
      checkSweep(sweep);
      checkOutcome(outcome);
      checkSlot(report.slot);

      finished.inc({ sweep, outcome });
      running.dec({ sweep });
      if (isDuration(report.durationSeconds)) {
        trialDuration.observe({ outcome }, report.durationSeconds);
      }
      clearSlot(report.slot);
    },

    epochFinished(sweep, report) {
      checkSweep(sweep);
      checkSlot(report.slot);
      const slot = report.slot ?? 0;

      if (isDuration(report.epochSeconds)) {
        epochDuration.observe({ sweep }, report.epochSeconds);
      }
      if (Number.isFinite(report.imagesPerSecond)) {
        imagesPerSecond.set({ slot: String(slot) }, report.imagesPerSecond);
        slotsWithSeries.add(slot);
      }
      if (report.tensorMemory !== undefined) trialMemoryBySlot.set(slot, report.tensorMemory);

      const best = bestValAccuracy.get(sweep) ?? -Infinity;
      if (Number.isFinite(report.valAccuracy) && report.valAccuracy > best) {
        bestValAccuracy.set(sweep, report.valAccuracy);
        bestAccuracy.set({ sweep }, report.valAccuracy);
      }
    },

    setSlots(total, busy) {
      if (!Number.isInteger(total) || total < 0) {
        throw new ConfigError(`slots must be a whole number of at least 0, got ${total}`);
      }
      if (!Number.isInteger(busy) || busy < 0 || busy > total) {
        throw new ConfigError(
          `busy slots must be a whole number from 0 to the ${total} slots, got ${busy}`,
        );
      }

      slots.set(total);
      freeSlots.set(total - busy);

      for (const slot of slotsWithSeries) {
        if (slot < total) continue;
        imagesPerSecond.remove({ slot: String(slot) });
        slotsWithSeries.delete(slot);
      }
      for (let slot = 0; slot < total; slot += 1) {
        if (slotsWithSeries.has(slot)) continue;
        imagesPerSecond.set({ slot: String(slot) }, 0);
        slotsWithSeries.add(slot);
      }
    },
  };
}

function checkSweep(sweep: string): void {
  if (typeof sweep !== 'string' || sweep === '') {
    throw new ConfigError(
      `the sweep label must be a non-empty sweep id, got ${JSON.stringify(sweep)}`,
    );
  }
}

function checkOutcome(outcome: string): void {
  if (!(TRIAL_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new ConfigError(
      `a trial outcome must be one of ${TRIAL_OUTCOMES.join(', ')}, got ${outcome}`,
    );
  }
}

function checkSlot(slot: number | undefined): void {
  if (slot !== undefined && (!Number.isInteger(slot) || slot < 0)) {
    throw new ConfigError(`a slot must be a whole number of at least 0, got ${slot}`);
  }
}

function isDuration(seconds: number): boolean {
  if (Number.isFinite(seconds) && seconds >= 0) return true;
  logger.debug({ seconds }, 'metrics skipped a duration');
  return false;
}

/**
 * `tf.memory()` of this process when `@tensorflow/tfjs-node` is already loaded (through
 * lib/tf.ts), else null. Looks in Node's module cache rather than importing, because loading
 * TensorFlow in a worker that trains only in child processes costs seconds and memory.
 */
function loadedTensorFlowMemory(): TensorMemory | null {
  const require = createRequire(import.meta.url);
  let loaded: { exports: unknown } | undefined;
  try {
    loaded = require.cache[require.resolve('@tensorflow/tfjs-node')];
  } catch {
    return null;
  }

  const tf = loaded?.exports as { memory?: () => TensorMemory } | undefined;
  if (typeof tf?.memory !== 'function') return null;

  const memory = tf.memory();
  return { numTensors: memory.numTensors, numBytes: memory.numBytes };
}
