/**
 * Exactly-once delivery of one run's metric points to MLflow, in the background.
 *
 * How "exactly once" holds:
 * - Points are keyed by (metric key, step). Until a point leaves for the server, a newer
 *   value for the same key and step replaces it (the last value wins). Once a point has
 *   left, any later point with that key and step is ignored.
 * - A batch that failed is re-sent unchanged (same value and timestamp). MLflow's SQL store
 *   keeps one row per (key, timestamp, step, value), so a batch that reached the server
 *   before its answer was lost is not stored twice.
 * - After a worker restart, {@link MetricBuffer.fromServer} reads the run's metric history,
 *   so steps already stored are skipped when the trainer logs them again. Note: this holds
 *   only if the previous worker has stopped sending; a batch it still retries after the
 *   history was read lands as a second copy (with its older timestamp).
 *
 * Memory: at most `maxPendingPoints` points wait (queued and in flight, about 150 bytes each);
 * beyond that `log()` applies back-pressure (its promise waits for room), it never drops a
 * point. The record of sent (key, step) pairs grows by about 16 bytes per point sent.
 *
 * NaN is stored as NaN. MLflow's SQL store keeps +/-Infinity as +/-1.7976931348623157e308;
 * the first time a key gets an infinite value, the run gets the tag `sweep.infinite_metrics`
 * saying so, and {@link MlflowClient.getMetricHistory} reads those values back as Infinity.
 */
import { logger as rootLogger, type Logger } from '../lib/logger.js';
import type { MetricPoint, MlflowClient } from './client.js';
import { TrackingError } from './errors.js';
import { backoffDelayMs } from './retry.js';

/** Options of {@link MetricBuffer}. */
export interface MetricBufferOptions {
  /**
   * Points waiting (queued plus in flight) above which `log()` waits for room.
   * Default 50000 (a few MB).
   */
  maxPendingPoints?: number;

  /** How long a point may wait before it is sent, in ms. Default 1000. */
  flushIntervalMs?: number;

  /** Points per request, 1 to 999 (one slot is kept for the Infinity tag). Default 999. */
  maxBatchPoints?: number;

  /**
   * How long delivery may keep failing before the buffer gives up, in ms. Afterwards
   * `log()`, `flush()` and `close()` reject with a `METRICS_UNDELIVERED` TrackingError.
   * Default 900000 (15 min).
   */
  maxOutageMs?: number;

  /** First delay between delivery retries, in ms (then doubling, with jitter). Default 500. */
  retryInitialDelayMs?: number;

  /** Cap on the delay between delivery retries, in ms. Default 5000. */
  retryMaxDelayMs?: number;

  /** Where outages and recoveries are logged. Default: the shared pino logger. */
  logger?: Logger;
}

/** What `log()` did with a point. */
export type LogOutcome =
  /** New (key, step): it will be sent. */
  | 'queued'
  /** A queued point of the same (key, step) was replaced by this one. */
  | 'replaced'
  /** That (key, step) was already sent (or is being sent); this point is ignored. */
  | 'already-sent';

/** A snapshot of the buffer's state. */
export interface MetricBufferStats {
  /** Points waiting to be sent. */
  queued: number;
  /** Points in the request being sent now. */
  inFlight: number;
  /** Points delivered by this buffer (not counting those read from the server). */
  delivered: number;
  /** Delivery attempts that failed and were retried. */
  failedAttempts: number;
  closed: boolean;
}

/** The tag that explains how infinite values were stored. */
export const INFINITE_METRICS_TAG = 'sweep.infinite_metrics';

const ENDPOINT = 'POST /api/2.0/mlflow/runs/log-batch';
const KEY_PATTERN = /^[/\p{L}\p{N}_.\- :]+$/u;

interface QueuedPoint extends MetricPoint {
  /** Order of arrival; a replacement keeps the place of the point it replaced. */
  seq: number;
}

/**
 * Background, exactly-once metric delivery for one run. Call `close()` when the run ends:
 * points still queued when the process exits are lost.
 */
export class MetricBuffer {
  readonly runId: string;

  readonly #client: MlflowClient;
  readonly #log: Logger;
  readonly #maxPending: number;
  readonly #flushIntervalMs: number;
  readonly #maxBatch: number;
  readonly #maxOutageMs: number;
  readonly #retryDelays: { initialDelayMs: number; maxDelayMs: number };

  /** Queued points by `key\0step`, in arrival order. */
  readonly #queue = new Map<string, QueuedPoint>();
  /** Steps sent (or in flight) per key. */
  readonly #sent = new Map<string, Set<number>>();
  readonly #infiniteKeys = new Set<string>();
  #infiniteTagged = 0;

  #inFlight = 0;
  #nextSeq = 1;
  #deliveredSeq = 0;
  #delivered = 0;
  #failedAttempts = 0;
  #closed = false;
  #failure: TrackingError | undefined;

  /** Wakes the sender early (full batch, flush, close). */
  #wake: (() => void) | undefined;
  /** Waiters for room (back-pressure) and for delivery (flush). */
  #waiters: { ready: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly #loop: Promise<void>;

  /**
   * @param alreadySent (key, step) pairs stored before, which `log()` will skip.
   * @throws TrackingError `METRIC_BUFFER_OPTIONS_INVALID` naming the option and value.
   */
  constructor(
    client: MlflowClient,
    runId: string,
    options: MetricBufferOptions = {},
    alreadySent: Iterable<{ key: string; step: number }> = [],
  ) {
    this.runId = runId;
    this.#client = client;
    this.#log = (options.logger ?? rootLogger).child({ runId });
    this.#maxPending = checkOption('maxPendingPoints', options.maxPendingPoints ?? 50_000, 1);
    this.#flushIntervalMs = checkOption('flushIntervalMs', options.flushIntervalMs ?? 1000, 0);
    this.#maxBatch = checkOption('maxBatchPoints', options.maxBatchPoints ?? 999, 1, 999);
    this.#maxOutageMs = checkOption('maxOutageMs', options.maxOutageMs ?? 900_000, 0);
    this.#retryDelays = {
      initialDelayMs: checkOption('retryInitialDelayMs', options.retryInitialDelayMs ?? 500, 0),
      maxDelayMs: checkOption('retryMaxDelayMs', options.retryMaxDelayMs ?? 5000, 0),
    };

    for (const { key, step } of alreadySent) {
      this.#markSent(key, step);
    }
    this.#loop = this.#run().catch((error: unknown) => {
      this.#fail(undelivered(runId, this.#pending(), error, 'the sender crashed'));
    });
  }

  /**
   * A buffer that skips every (key, step) already in the run's history for `keys`: use it
   * when a trial resumes on another worker. Reads each key's history once (paged).
   */
  static async fromServer(
    client: MlflowClient,
    runId: string,
    keys: string[],
    options: MetricBufferOptions = {},
  ): Promise<MetricBuffer> {
    const stored: { key: string; step: number }[] = [];
    for (const key of keys) {
      const history = await client.getMetricHistory(runId, key);
      stored.push(...history.map((point) => ({ key, step: point.step })));
    }
    return new MetricBuffer(client, runId, options, stored);
  }

  /**
   * Queues one point. Resolves at once unless `maxPendingPoints` are waiting, in which case
   * it waits for room (back-pressure). `value` may be NaN or +/-Infinity.
   *
   * @param step integer step (epoch, batch...).
   * @param timestampMs Unix time in ms; default now.
   * @throws TrackingError `METRIC_INVALID` for a key MLflow would refuse (empty, over 250
   *   characters, characters other than letters, digits, `_ - . / :` and space, or `.`/`..`
   *   segments), a non-integer step, or a bad timestamp; `METRIC_BUFFER_CLOSED` after
   *   `close()`; `METRICS_UNDELIVERED` once delivery has failed for good.
   */
  async log(
    key: string,
    value: number,
    step: number,
    timestampMs: number = Date.now(),
  ): Promise<LogOutcome> {
    this.#throwIfUnusable();
    checkPoint(key, value, step, timestampMs);

    if (this.hasSent(key, step)) {
      return 'already-sent';
    }

    const id = `${key}\u0000${step}`;
    const queued = this.#queue.get(id);
    if (queued !== undefined) {
      queued.value = value;
      queued.timestampMs = timestampMs;
      return 'replaced';
    }

    this.#queue.set(id, { key, value, step, timestampMs, seq: this.#nextSeq++ });

    // Wake the sender when it idles on an empty queue (to start the flush interval), when a
    // batch is full, and when a caller must wait for room.
    const full = this.#pending() > this.#maxPending;
    if (this.#queue.size === 1 || this.#queue.size >= this.#maxBatch || full) {
      this.#wake?.();
    }
    if (full) {
      await this.#waitFor(() => this.#pending() <= this.#maxPending);
    }
    return 'queued';
  }

  /** Whether (key, step) was sent (or is being sent), by this buffer or before a resume. */
  hasSent(key: string, step: number): boolean {
    return this.#sent.get(key)?.has(step) === true;
  }

  /** The steps of `key` sent so far, ascending. */
  sentSteps(key: string): number[] {
    return [...(this.#sent.get(key) ?? [])].sort((a, b) => a - b);
  }

  /** A snapshot of the queue and delivery counters. */
  stats(): MetricBufferStats {
    return {
      queued: this.#queue.size,
      inFlight: this.#inFlight,
      delivered: this.#delivered,
      failedAttempts: this.#failedAttempts,
      closed: this.#closed,
    };
  }

  /**
   * Waits until every point logged before this call is stored by MLflow, through outages.
   *
   * @param timeoutMs give up waiting after this long (points stay queued); default no limit.
   * @throws TrackingError `METRICS_FLUSH_TIMEOUT` (retryable) when `timeoutMs` passes, or
   *   `METRICS_UNDELIVERED` when delivery failed for good.
   */
  async flush(timeoutMs?: number): Promise<void> {
    this.#throwIfFailed();
    const target = this.#nextSeq - 1;
    if (this.#deliveredSeq >= target) {
      return;
    }

    this.#wake?.();
    const delivered = this.#waitFor(() => this.#deliveredSeq >= target);
    if (timeoutMs === undefined) {
      await delivered;
      return;
    }
    await withTimeout(delivered, timeoutMs, () => this.#flushTimeout(timeoutMs));
  }

  /**
   * Stops taking points, delivers the queue and stops the background sender. Safe to call
   * more than once.
   *
   * @param timeoutMs as for {@link flush}; on timeout the sender keeps trying in the
   *   background until `maxOutageMs`.
   * @throws TrackingError as {@link flush} does.
   */
  async close(timeoutMs?: number): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    if (timeoutMs === undefined) {
      await this.#loop;
    } else {
      await withTimeout(this.#loop, timeoutMs, () => this.#flushTimeout(timeoutMs));
    }
    this.#throwIfFailed();
  }

  // ---------------------------------------------------------------- sender

  async #run(): Promise<void> {
    while (this.#failure === undefined) {
      if (this.#queue.size === 0) {
        if (this.#closed) {
          return;
        }
        await this.#sleep(undefined);
        continue;
      }

      if (!this.#closed && this.#queue.size < this.#maxBatch && !this.#flushWanted()) {
        await this.#sleep(this.#flushIntervalMs);
      }
      await this.#deliver(this.#takeBatch());
    }
  }

  /**
   * Waits `ms`, or until woken when undefined. An idle wait holds no timer, so an idle
   * buffer does not keep the process alive.
   */
  async #sleep(ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.#wake?.(), ms);
      this.#wake = () => {
        this.#wake = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #flushWanted(): boolean {
    return this.#waiters.length > 0;
  }

  #takeBatch(): QueuedPoint[] {
    const batch: QueuedPoint[] = [];
    for (const [id, point] of this.#queue) {
      if (batch.length >= this.#maxBatch) {
        break;
      }
      this.#queue.delete(id);
      this.#markSent(point.key, point.step);
      batch.push(point);
    }
    this.#inFlight = batch.length;
    return batch;
  }

  /** Sends one batch until it is stored, the outage budget runs out, or MLflow refuses it. */
  async #deliver(batch: QueuedPoint[]): Promise<void> {
    const metrics = batch.map(({ key, value, step, timestampMs }) => ({
      key,
      value,
      step,
      timestampMs,
    }));
    const tags = this.#infinityTag(batch);
    const outageStart = performance.now();

    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.#client.logBatch(this.runId, { metrics, tags }, { retry: { maxAttempts: 1 } });
        break;
      } catch (error) {
        const outageMs = performance.now() - outageStart;
        if (!(error instanceof TrackingError) || !error.retryable) {
          this.#fail(undelivered(this.runId, batch.length, error, 'MLflow refused them'));
          return;
        }
        if (outageMs > this.#maxOutageMs) {
          const why = `MLflow could not be reached for ${Math.round(outageMs / 1000)} s`;
          this.#fail(undelivered(this.runId, batch.length, error, why));
          return;
        }

        this.#failedAttempts += 1;
        const delayMs = backoffDelayMs(this.#retryDelays, attempt);
        if (attempt === 0) {
          this.#log.warn(
            { points: batch.length, reason: error.message },
            'metric delivery failing, retrying',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }

    const outageMs = Math.round(performance.now() - outageStart);
    if (outageMs > 1000) {
      this.#log.info({ points: batch.length, outageMs }, 'metric delivery recovered');
    }
    this.#infiniteTagged = this.#infiniteKeys.size;
    this.#inFlight = 0;
    this.#delivered += batch.length;
    this.#deliveredSeq = Math.max(this.#deliveredSeq, ...batch.map((point) => point.seq));
    this.#settleWaiters();
  }

  /** The explanatory tag, when this batch brings the first infinite value of some key. */
  #infinityTag(batch: QueuedPoint[]): Record<string, string> {
    for (const point of batch) {
      if (point.value === Infinity || point.value === -Infinity) {
        this.#infiniteKeys.add(point.key);
      }
    }
    if (this.#infiniteKeys.size === this.#infiniteTagged) {
      return {};
    }

    const keys = [...this.#infiniteKeys].sort().join(', ');
    return {
      [INFINITE_METRICS_TAG]:
        `${keys}: MLflow's SQL store cannot hold Infinity, so +/-Infinity is stored as ` +
        '+/-1.7976931348623157e308',
    };
  }

  // ---------------------------------------------------------------- waiting

  #pending(): number {
    return this.#queue.size + this.#inFlight;
  }

  #markSent(key: string, step: number): void {
    let steps = this.#sent.get(key);
    if (steps === undefined) {
      steps = new Set();
      this.#sent.set(key, steps);
    }
    steps.add(step);
  }

  #waitFor(ready: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ ready, resolve, reject });
    });
  }

  #settleWaiters(): void {
    const still = [];
    for (const waiter of this.#waiters) {
      if (waiter.ready()) {
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.#waiters = still;
  }

  #fail(error: TrackingError): void {
    this.#failure = error;
    this.#inFlight = 0;
    this.#log.error(
      { queued: this.#queue.size, reason: error.message },
      'metric delivery failed for good',
    );
    for (const waiter of this.#waiters) {
      waiter.reject(error);
    }
    this.#waiters = [];
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) {
      throw this.#failure;
    }
  }

  #throwIfUnusable(): void {
    this.#throwIfFailed();
    if (this.#closed) {
      throw new TrackingError(`the metric buffer of run ${this.runId} is closed`, {
        endpoint: ENDPOINT,
        subject: `run ${this.runId}`,
        code: 'METRIC_BUFFER_CLOSED',
        retryable: false,
        hint: 'Log every point before close(), or open a new buffer with MetricBuffer.fromServer.',
      });
    }
  }

  #flushTimeout(timeoutMs: number): TrackingError {
    return new TrackingError(
      `metrics of run ${this.runId} were not all stored within ${timeoutMs} ms ` +
        `(${this.#pending()} points still waiting)`,
      {
        endpoint: ENDPOINT,
        subject: `run ${this.runId}`,
        code: 'METRICS_FLUSH_TIMEOUT',
        retryable: true,
        hint: 'The points stay queued and keep being retried; flush again later.',
      },
    );
  }
}

function undelivered(runId: string, points: number, cause: unknown, why: string) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const count = points === 1 ? '1 metric point' : `${points} metric points`;
  return new TrackingError(
    `${count} of run ${runId} could not be stored: ${why} (${reason})`,
    {
      endpoint: ENDPOINT,
      subject: `run ${runId}`,
      code: 'METRICS_UNDELIVERED',
      retryable: false,
      hint:
        'Check that the MLflow server is up and the run is active, then resume the trial; ' +
        'a new MetricBuffer.fromServer skips the steps already stored.',
      cause,
    },
  );
}

/** Throws TrackingError METRIC_INVALID for a point MLflow would refuse. */
function checkPoint(key: string, value: number, step: number, timestampMs: number): void {
  const problems: string[] = [];
  if (typeof key !== 'string' || key === '' || key.length > 250) {
    problems.push(`key must be 1 to 250 characters, got ${JSON.stringify(key)}`);
  } else if (!KEY_PATTERN.test(key) || hasDotSegments(key)) {
    problems.push(
      `key ${JSON.stringify(key)} may only hold letters, digits, _ - . / : and spaces, ` +
        'without empty, "." or ".." path segments',
    );
  }
  if (typeof value !== 'number') {
    problems.push(`value must be a number, got ${typeof value}`);
  }
  if (!Number.isSafeInteger(step)) {
    problems.push(`step must be an integer, got ${step}`);
  }
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    problems.push(`timestampMs must be a non-negative integer, got ${timestampMs}`);
  }

  if (problems.length > 0) {
    throw new TrackingError(`invalid metric point: ${problems.join('; ')}`, {
      endpoint: ENDPOINT,
      subject: `metric ${String(key)}`,
      code: 'METRIC_INVALID',
      retryable: false,
    });
  }
}

function hasDotSegments(key: string): boolean {
  return key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
}

function checkOption(name: string, value: number, min: number, max = Infinity): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new TrackingError(`MetricBuffer option ${name} must be a number ${range}, got ${value}`, {
      endpoint: ENDPOINT,
      code: 'METRIC_BUFFER_OPTIONS_INVALID',
      retryable: false,
    });
  }
  return value;
}

async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
