/**
 * What one trial records in MLflow: a child run nested under the sweep's parent run, holding
 * the trial's hyperparameters as params, its per-epoch metrics, its test results and the
 * files of its run folder.
 *
 * Exactly one child run exists per trial: a retried attempt or a resumed trial finds its run
 * by the `sweep.trial_id` tag and keeps logging into it, and metrics go through a
 * {@link MetricBuffer} seeded from the run's history, so no (metric, epoch) is stored twice.
 *
 * Note: an epoch logged by an earlier attempt keeps that attempt's value. When an attempt
 * resumes from an older checkpoint than the last epoch it logged (it crashed between logging
 * and checkpointing), the epochs it trains again are not logged again, while the run folder's
 * `history.json` holds the new values.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

import { ConfigError } from '../lib/errors.js';
import { logger as rootLogger, type Logger } from '../lib/logger.js';
import { isRecord } from '../spec/paths.js';
import { RUN_FILES } from '../training/run-files.js';
import type { TrialConfig } from '../spec/schema.js';
import type { MlflowClient, Run } from './client.js';
import { TrackingError } from './errors.js';
import { findOrCreateRun, logMissingParams } from './find-run.js';
import { MetricBuffer, type MetricBufferOptions } from './metric-buffer.js';
import { ARTIFACTS, EPOCH_METRICS, TAGS, TRIAL_SUMMARY_METRICS } from './tags.js';

/** A metric logged per epoch. */
export type EpochMetric = (typeof EPOCH_METRICS)[number];

/** The trial a run records: its id, plan position, readable name and training config. */
export interface RecordedTrial {
  /** Stable trial id (`<sweep id>-t<8 hex>`); the run is found by it. */
  id: string;
  /** 0-based position in plan order. */
  index: number;
  /** Readable name; becomes the run name, e.g. `dropout.dense=0.3,attention=none`. */
  name: string;
  config: TrialConfig;
}

/** Options of {@link TrialRecorder.start}. */
export interface TrialRecorderInput {
  client: MlflowClient;
  /** From the sweep recorder (`SweepRecorder.ref`). */
  experimentId: string;
  /** The sweep's parent run (`SweepRecorder.ref.parentRunId`). */
  parentRunId: string;
  sweepId: string;
  /** A `PlannedTrial` or the workflow's `TrialRef`: both fit. */
  trial: RecordedTrial;
  /** 1-based activity attempt; the `sweep.attempt` tag is overwritten with it. */
  attempt: number;
  /** Host name of this worker; default `os.hostname()`. */
  workerHost?: string;
  /** TensorFlow backend the trial trains on, e.g. `tensorflow`. */
  backend: string;
  /** `cpu` or `gpu:<N>`. */
  device: 'cpu' | `gpu:${number}`;
  /** Options of the metric buffer (flush interval, outage budget...). */
  metricBuffer?: MetricBufferOptions;
  /** Default: the shared logger. */
  logger?: Logger;
}

/** One finished epoch: the shape of `EpochReport` and of the trial process's IPC report. */
export interface EpochMetrics {
  /** 1-based epoch; the metrics' step. */
  epoch: number;
  logs: Record<EpochMetric, number>;
}

/** What {@link TrialRecorder.finish} reads from a trial's `TrialSummary`. */
export interface TrialResultSummary {
  bestEpoch: number;
  bestValAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  /** The run folder whose files become artifacts. */
  runDir: string;
}

/** Options of {@link TrialRecorder.finish}, {@link TrialRecorder.fail} and `cancel`. */
export interface EndOptions {
  /**
   * How long to wait for buffered metrics to reach MLflow, in ms. Default 120000 for
   * `finish` (MLflow may be restarting), 30000 for `fail` and `cancel`.
   */
  flushTimeoutMs?: number;
}

/** What {@link TrialRecorder.finish} did. */
export interface TrialFinishResult {
  runId: string;
  /** Artifact paths uploaded, sorted. */
  artifacts: string[];
  /** Run-folder files expected but absent (not uploaded). */
  missing: string[];
}

/**
 * Files of the run folder uploaded as artifacts: every file a trial writes. The checkpoint
 * folder is left out on purpose: it is only for resuming.
 */
export const TRIAL_ARTIFACT_FILES: readonly string[] = Object.values(RUN_FILES);

const HISTORY_FILE = RUN_FILES.history;
const FINISH_FLUSH_TIMEOUT_MS = 120_000;
const END_FLUSH_TIMEOUT_MS = 30_000;
const FAILURE_REASON_MAX_LENGTH = 500;

/**
 * Records one trial in its MLflow child run. Create with {@link TrialRecorder.start}; call
 * `epoch()` after each epoch, then exactly one of `finish()`, `fail()` or `cancel()`.
 */
export class TrialRecorder {
  /** The child run's id. */
  readonly runId: string;
  readonly experimentId: string;
  readonly trialId: string;
  /** True when the run existed already (a retried attempt or a resumed trial). */
  readonly reused: boolean;

  readonly #client: MlflowClient;
  readonly #log: Logger;
  readonly #bufferOptions: MetricBufferOptions;
  #buffer: MetricBuffer;
  #bufferBroken = false;
  #ended = false;

  private constructor(
    client: MlflowClient,
    run: Run,
    reused: boolean,
    buffer: MetricBuffer,
    trialId: string,
    log: Logger,
    bufferOptions: MetricBufferOptions,
  ) {
    this.#client = client;
    this.runId = run.info.runId;
    this.experimentId = run.info.experimentId;
    this.trialId = trialId;
    this.reused = reused;
    this.#buffer = buffer;
    this.#log = log;
    this.#bufferOptions = bufferOptions;
  }

  /**
   * Finds the trial's child run by its `sweep.trial_id` tag, or creates it nested under
   * `parentRunId` and named after the trial. Logs every hyperparameter of the config as a
   * param (those not stored yet: params cannot change), sets the attempt, worker, backend
   * and device tags, sets a finished or failed run back to RUNNING, and reads the metric
   * history so that epochs already stored are not logged again.
   *
   * Call it before training starts; it needs MLflow to answer.
   *
   * @throws ConfigError for an attempt below 1 or a device other than `cpu` / `gpu:N`.
   * @throws TrackingError when MLflow cannot be reached within the client's retry budget
   *   (retryable: fail the attempt and let Temporal retry it) or refuses a call.
   */
  static async start(input: TrialRecorderInput): Promise<TrialRecorder> {
    checkStartInput(input);
    const { client, trial } = input;
    const log = (input.logger ?? rootLogger).child({ sweepId: input.sweepId, trialId: trial.id });

    const { run, reused } = await findOrCreateRun(
      client,
      {
        experimentId: input.experimentId,
        key: { key: TAGS.trialId, value: trial.id },
        role: 'trial',
        runName: trial.name,
        parentRunId: input.parentRunId,
        tags: { [TAGS.sweepId]: input.sweepId, [TAGS.trialIndex]: String(trial.index) },
      },
      log,
    );

    await logMissingParams(client, run, trialParams(trial.config), log);
    await client.setTags(run.info.runId, {
      [TAGS.attempt]: String(input.attempt),
      [TAGS.workerHost]: input.workerHost ?? hostname(),
      [TAGS.backend]: input.backend,
      [TAGS.device]: input.device,
      [TAGS.datasetRoot]: trial.config.dataset.root,
    });

    const bufferOptions = { logger: log, ...input.metricBuffer };
    const buffer = reused
      ? await MetricBuffer.fromServer(client, run.info.runId, RECORDED_METRICS, bufferOptions)
      : new MetricBuffer(client, run.info.runId, bufferOptions);

    log.info(
      { runId: run.info.runId, reused, attempt: input.attempt },
      reused ? 'mlflow trial run reused' : 'mlflow trial run created',
    );
    return new TrialRecorder(client, run, reused, buffer, trial.id, log, bufferOptions);
  }

  /**
   * Queues one epoch's metrics (loss, accuracy, val_loss, val_accuracy, learning_rate,
   * epoch_seconds, images_per_second) at step = epoch. Returns at once: delivery happens in
   * the background and survives MLflow outages (up to the buffer's `maxOutageMs`, 15 min by
   * default). An epoch already stored by an earlier attempt is skipped.
   *
   * Never throws for tracking problems, so training goes on while MLflow is down; a buffer
   * that gave up is replaced at `finish()`, which re-reads the run folder's history.
   */
  async epoch(report: EpochMetrics): Promise<void> {
    if (this.#ended || this.#bufferBroken) {
      return;
    }

    const timestampMs = Date.now();
    try {
      for (const key of EPOCH_METRICS) {
        const value = report.logs[key];
        if (typeof value === 'number') {
          await this.#buffer.log(key, value, report.epoch, timestampMs);
        }
      }
    } catch (error) {
      this.#bufferBroken = true;
      this.#log.warn(
        { runId: this.runId, epoch: report.epoch, reason: errorMessage(error) },
        'mlflow epoch metrics not queued, finish will log them from history.json',
      );
    }
  }

  /**
   * Waits until every epoch queued so far is stored in MLflow, for at most `timeoutMs`
   * (default 30000). Training does not need this; use it before reporting progress that
   * should be visible in MLflow.
   *
   * @throws TrackingError `METRICS_FLUSH_TIMEOUT` (retryable) when the time runs out, or
   *   `METRICS_UNDELIVERED` when delivery gave up (`finish()` still recovers those epochs).
   */
  async flush(timeoutMs = END_FLUSH_TIMEOUT_MS): Promise<void> {
    await this.#buffer.flush(timeoutMs);
  }

  /**
   * Ends the run FINISHED: logs any epoch of `<runDir>/history.json` not stored yet (epochs
   * lost to a crash or a long outage), logs test_loss, test_accuracy, best_val_accuracy and
   * best_epoch (step 0), waits for every metric to be stored, uploads the run folder's files
   * ({@link TRIAL_ARTIFACT_FILES}: the model in tfjs format, summary, history, metrics with
   * class names, the PNGs; never the checkpoint), then sets the status.
   *
   * Safe to call again after it failed (a retried attempt): stored metrics are skipped and
   * artifacts overwritten.
   *
   * @throws TrackingError `METRICS_FLUSH_TIMEOUT` (retryable) when the metrics are not stored
   *   within `flushTimeoutMs`; a retryable TrackingError when an upload or the status update
   *   runs out of retries. The run then stays RUNNING.
   */
  async finish(summary: TrialResultSummary, options: EndOptions = {}): Promise<TrialFinishResult> {
    const flushTimeoutMs = options.flushTimeoutMs ?? FINISH_FLUSH_TIMEOUT_MS;
    const started = performance.now();

    // A buffer that gave up for good lost its points; a fresh one re-reads what is stored
    // and history.json brings back the rest. One second round is enough for that.
    for (let round = 1; ; round += 1) {
      try {
        await this.#queueFinalMetrics(summary);
        await this.#buffer.close(flushTimeoutMs);
        break;
      } catch (error) {
        if (round >= 2 || !isUndelivered(error)) {
          throw error;
        }
        this.#bufferBroken = true;
      }
    }

    const { artifacts, missing } = await this.#uploadRunFolder(summary.runDir);
    await this.#client.endRun(this.runId, 'FINISHED');
    this.#ended = true;

    this.#log.info(
      {
        runId: this.runId,
        artifacts: artifacts.length,
        missing,
        durationMs: Math.round(performance.now() - started),
      },
      'mlflow trial run finished',
    );
    return { runId: this.runId, artifacts, missing };
  }

  /**
   * Ends the run FAILED, with tag `sweep.failure_reason` holding the first line of the
   * error's message (credentials in URLs, tokens and passwords masked, at most 500
   * characters) and `sweep.failed_attempt` the attempt. Metrics queued so far are delivered
   * first, waiting at most `flushTimeoutMs`.
   *
   * A retried attempt calling `start()` sets the run back to RUNNING; the reason stays as a
   * record of the failed attempt.
   *
   * Never throws: it is called on a path that already has an error to report.
   * @returns false when MLflow could not be told (the problem is logged).
   */
  async fail(error: unknown, attempt?: number, options: EndOptions = {}): Promise<boolean> {
    const tags: Record<string, string> = { [TAGS.failureReason]: failureReason(error) };
    if (attempt !== undefined) {
      tags[TAGS.failedAttempt] = String(attempt);
    }
    return await this.#end('FAILED', tags, options.flushTimeoutMs ?? END_FLUSH_TIMEOUT_MS);
  }

  /**
   * Ends the run KILLED (the trial was cancelled), after delivering queued metrics for at
   * most `flushTimeoutMs`. Never throws.
   * @returns false when MLflow could not be told (the problem is logged).
   */
  async cancel(options: EndOptions = {}): Promise<boolean> {
    return await this.#end('KILLED', {}, options.flushTimeoutMs ?? END_FLUSH_TIMEOUT_MS);
  }

  async #end(
    status: 'FAILED' | 'KILLED',
    tags: Record<string, string>,
    flushTimeoutMs: number,
  ): Promise<boolean> {
    this.#ended = true;
    try {
      await this.#buffer.close(flushTimeoutMs);
    } catch (error) {
      this.#log.warn(
        { runId: this.runId, reason: errorMessage(error) },
        'mlflow metrics not all stored before the run ended',
      );
    }

    try {
      if (Object.keys(tags).length > 0) {
        await this.#client.setTags(this.runId, tags);
      }
      await this.#client.endRun(this.runId, status);
      this.#log.info({ runId: this.runId, status }, 'mlflow trial run ended');
      return true;
    } catch (error) {
      this.#log.warn(
        { runId: this.runId, status, reason: errorMessage(error) },
        'mlflow trial run status not recorded',
      );
      return false;
    }
  }

  /**
   * Queues the epochs of history.json not stored yet and the summary metrics, into a fresh
   * buffer when the current one gave up. A buffer closed by an earlier `finish()` that timed
   * out already holds them and keeps sending.
   */
  async #queueFinalMetrics(summary: TrialResultSummary): Promise<void> {
    if (this.#bufferBroken) {
      await this.#buffer.close(1).catch(() => undefined);
      this.#buffer = await MetricBuffer.fromServer(
        this.#client,
        this.runId,
        RECORDED_METRICS,
        this.#bufferOptions,
      );
      this.#bufferBroken = false;
    }
    if (this.#buffer.stats().closed) {
      return;
    }

    await this.#backfillHistory(summary.runDir);
    const timestampMs = Date.now();
    const values: Record<(typeof TRIAL_SUMMARY_METRICS)[number], number> = {
      test_loss: summary.testLoss,
      test_accuracy: summary.testAccuracy,
      best_val_accuracy: summary.bestValAccuracy,
      best_epoch: summary.bestEpoch,
    };
    for (const key of TRIAL_SUMMARY_METRICS) {
      await this.#buffer.log(key, values[key], 0, timestampMs);
    }
  }

  /** Logs every epoch of history.json; the buffer skips those already stored. */
  async #backfillHistory(runDir: string): Promise<void> {
    const history = await readHistory(path.join(runDir, HISTORY_FILE), this.#log);
    const epochs = history?.loss?.length ?? 0;
    const timestampMs = Date.now();

    for (let index = 0; index < epochs; index += 1) {
      for (const key of EPOCH_METRICS) {
        const value = history?.[key]?.[index];
        if (typeof value === 'number' || value === null) {
          // JSON cannot hold NaN, so history.json has null where a metric was NaN.
          await this.#buffer.log(key, value ?? Number.NaN, index + 1, timestampMs);
        }
      }
    }
  }

  async #uploadRunFolder(runDir: string): Promise<{ artifacts: string[]; missing: string[] }> {
    const artifacts: string[] = [];
    const missing: string[] = [];

    for (const name of TRIAL_ARTIFACT_FILES) {
      const local = path.join(runDir, name);
      const kind = await fileKind(local);
      if (kind === undefined) {
        missing.push(name);
      } else if (kind === 'dir') {
        artifacts.push(...(await this.#client.uploadArtifactDir(this.runId, local, name)));
      } else {
        await this.#client.uploadArtifactFile(this.runId, local, name);
        artifacts.push(name);
      }
    }

    if (missing.length > 0) {
      this.#log.warn({ runId: this.runId, runDir, missing }, 'run folder files missing');
    }
    return { artifacts: artifacts.sort(), missing };
  }
}

/** Every metric key a trial run holds; a resumed buffer reads their histories. */
const RECORDED_METRICS = [...EPOCH_METRICS, ...TRIAL_SUMMARY_METRICS];

/**
 * The trial's hyperparameters as MLflow params: every leaf of the config's sections under
 * its dotted path (`model.dropout.dense`, `training.schedule.name`, `dataset.imageSize`...),
 * numbers and booleans as JavaScript prints them, arrays as JSON. `dataset.root` is left out:
 * it is a location, recorded as the `sweep.dataset_root` tag. Absent optional values
 * (`dataset.maxPerClass`) are left out.
 */
export function trialParams(config: TrialConfig): Record<string, string> {
  const params: Record<string, string> = {};
  const sections = ['dataset', 'augmentation', 'model', 'training', 'callbacks'] as const;

  for (const section of sections) {
    flatten(config[section], section, params);
  }
  delete params['dataset.root'];
  return params;
}

function flatten(value: unknown, prefix: string, into: Record<string, string>): void {
  if (value === undefined) {
    return;
  }
  if (isRecord(value)) {
    for (const [key, child] of Object.entries(value)) {
      flatten(child, `${prefix}.${key}`, into);
    }
    return;
  }
  into[prefix] = Array.isArray(value) ? JSON.stringify(value) : String(value);
}

/**
 * The first line of an error's message with secrets masked: `user:password@` in URLs,
 * `Bearer` tokens, and values after `token`, `password`, `secret` or `api key` words. Cut to
 * 500 characters.
 */
export function failureReason(error: unknown): string {
  const message = errorMessage(error);
  const firstLine = message.split('\n').find((line) => line.trim() !== '') ?? '';
  const masked = firstLine
    .replace(/\/\/[^/\s@]+@/g, '//***@')
    .replace(/\bBearer\s+\S+/gi, 'Bearer ***')
    .replace(/\b(token|password|passwd|secret|api[_-]?key)(\s*[=:]\s*)[^\s,;&]+/gi, '$1$2***')
    .trim();

  const name = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
  const reason = `${name}${masked === '' ? '(no message)' : masked}`;
  return reason.length <= FAILURE_REASON_MAX_LENGTH
    ? reason
    : `${reason.slice(0, FAILURE_REASON_MAX_LENGTH - 3)}...`;
}

function isUndelivered(error: unknown): boolean {
  return error instanceof TrackingError && error.code === 'METRICS_UNDELIVERED';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function checkStartInput(input: TrialRecorderInput): void {
  const problems: string[] = [];
  if (!Number.isInteger(input.attempt) || input.attempt < 1) {
    problems.push(`attempt must be a whole number of at least 1, got ${input.attempt}`);
  }
  if (!/^(cpu|gpu:\d+)$/.test(input.device)) {
    problems.push(`device must be "cpu" or "gpu:<N>", got ${JSON.stringify(input.device)}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`cannot record trial ${input.trial.id}: ${problems.join('; ')}`);
  }
}

type HistoryColumns = Partial<Record<EpochMetric, (number | null)[]>>;

async function readHistory(file: string, log: Logger): Promise<HistoryColumns | undefined> {
  try {
    await access(file);
  } catch {
    return undefined;
  }

  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return isRecord(parsed) ? (parsed as HistoryColumns) : undefined;
  } catch (error) {
    log.warn({ file, reason: errorMessage(error) }, 'history.json unreadable, not backfilled');
    return undefined;
  }
}

async function fileKind(file: string): Promise<'file' | 'dir' | undefined> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) return 'dir';
    return info.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}
