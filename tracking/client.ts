/**
 * A small typed client for the MLflow tracking server's REST API 2.0, over global fetch.
 *
 * Covers what a sweep needs: experiments by name, runs (nested through the
 * `mlflow.parentRunId` tag), params/metrics/tags in batches within the server's limits, run
 * status, run search, metric history, proxied artifacts and the model registry.
 *
 * Every call retries network errors, timeouts and 5xx/429/408 answers with exponential
 * backoff and jitter (see {@link RetryPolicy}); a 4xx answer throws a {@link TrackingError}
 * at once. Note: `createRun` and `registerModelVersion` are not idempotent; if a retry follows
 * a failure after the server acted (a dropped connection), MLflow may hold a duplicate run or
 * model version. Find runs by a tag you set (see `findRunsByTag`) before creating them again.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { ConfigError } from '../lib/errors.js';
import { logger as rootLogger, type Logger } from '../lib/logger.js';
import { ExperimentDeletedError, isRetryableStatus, TrackingError } from './errors.js';
import { splitBatch } from './batch.js';
import { backoffDelayMs, resolveRetryPolicy, sleep, type RetryPolicy } from './retry.js';
import type {
  ArtifactEntry,
  Experiment,
  MetricPoint,
  ModelVersion,
  Run,
  RunData,
  RunInfo,
  RunStatus,
  RunViewType,
} from './types.js';
import {
  toExperiment,
  toKeyValues,
  toMetricPoint,
  toModelVersion,
  toRun,
  toRunInfo,
  type RawArtifact,
  type RawExperiment,
  type RawMetric,
  type RawModelVersion,
  type RawRun,
  type RawRunInfo,
} from './wire.js';

// Callers import the whole tracking API from here.
export type * from './types.js';
export { LOG_BATCH_LIMITS, splitBatch } from './batch.js';
export { decodeMetricValue, encodeMetricValue } from './wire.js';

/** Per-call overrides. */
export interface CallOptions {
  /** Overrides fields of the client's retry policy for this call. */
  retry?: Partial<RetryPolicy>;
}

/** Options of {@link MlflowClient}. */
export interface MlflowClientOptions {
  /**
   * Base URL of the tracking server, `http(s)://[user:password@]host[:port][/prefix]`.
   * Userinfo in the URL is used as Basic credentials and never logged.
   */
  trackingUri: string;

  /** Sent as `Authorization: Bearer`, unless username and password are both given. */
  token?: string;

  /** With `password`, sent as `Authorization: Basic`. */
  username?: string;
  password?: string;

  /** Retry policy of every call; see {@link RetryPolicy} for defaults. */
  retry?: Partial<RetryPolicy>;

  /** Timeout of one attempt of a JSON call, in ms. Default 30000. */
  requestTimeoutMs?: number;

  /** Timeout of one attempt of an artifact upload or download, in ms. Default 300000. */
  artifactTimeoutMs?: number;

  /** Where request failures and retries are logged. Default: the shared pino logger. */
  logger?: Logger;
}

const API = '/api/2.0/mlflow';
const ARTIFACTS_API = '/api/2.0/mlflow-artifacts/artifacts';

/**
 * Reads client options from the environment: `MLFLOW_TRACKING_URI` (required),
 * `MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`.
 *
 * @throws ConfigError when `MLFLOW_TRACKING_URI` is unset.
 */
export function clientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowClientOptions {
  const trackingUri = env.MLFLOW_TRACKING_URI;
  if (trackingUri === undefined || trackingUri === '') {
    throw new ConfigError('MLFLOW_TRACKING_URI is not set, so there is no MLflow server to use', {
      hint: 'Set MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (or wherever your server listens).',
    });
  }

  return {
    trackingUri,
    token: nonEmpty(env.MLFLOW_TRACKING_TOKEN),
    username: nonEmpty(env.MLFLOW_TRACKING_USERNAME),
    password: nonEmpty(env.MLFLOW_TRACKING_PASSWORD),
  };
}

/** Typed REST client of one MLflow tracking server. See the module comment for retries. */
export class MlflowClient {
  /** The tracking URI without userinfo or trailing slash; safe to log. */
  readonly url: string;

  readonly #authorization: string | undefined;
  readonly #retry: RetryPolicy;
  readonly #requestTimeoutMs: number;
  readonly #artifactTimeoutMs: number;
  readonly #log: Logger;
  readonly #artifactRoots = new Map<string, string>();

  /**
   * @throws ConfigError when the URI is not http(s), a username comes without a password
   *   (or the reverse), or the retry policy or timeouts are invalid.
   */
  constructor(options: MlflowClientOptions) {
    const parsed = parseTrackingUri(options.trackingUri);
    this.url = parsed.url;

    const username = options.username ?? parsed.username;
    const password = options.password ?? parsed.password;
    this.#authorization = authorizationHeader(username, password, options.token);

    this.#retry = resolveRetryPolicy(options.retry);
    this.#requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? 30_000);
    this.#artifactTimeoutMs = positive('artifactTimeoutMs', options.artifactTimeoutMs ?? 300_000);
    this.#log = (options.logger ?? rootLogger).child({ trackingUrl: this.url });
  }

  /** A client from the environment (see {@link clientOptionsFromEnv}) plus overrides. */
  static fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    overrides: Partial<MlflowClientOptions> = {},
  ): MlflowClient {
    return new MlflowClient({ ...clientOptionsFromEnv(env), ...overrides });
  }

  // ---------------------------------------------------------------- experiments

  /** The experiment of that name, deleted or not; undefined if there is none. */
  async getExperimentByName(
    name: string,
    options: CallOptions = {},
  ): Promise<Experiment | undefined> {
    try {
      const response = await this.#json<{ experiment: RawExperiment }>(
        'GET',
        `${API}/experiments/get-by-name`,
        {
          query: { experiment_name: name },
          subject: `experiment "${name}"`,
          retry: options.retry,
        },
      );
      return toExperiment(response.experiment);
    } catch (error) {
      if (isNotFound(error)) {
        return undefined;
      }
      throw error;
    }
  }

  /**
   * The active experiment of that name, created if missing. Safe when several workers call it
   * at once (a lost creation race reads the winner's experiment).
   *
   * @throws ExperimentDeletedError when the name belongs to a deleted experiment.
   */
  async getOrCreateExperiment(
    name: string,
    options: CallOptions & { tags?: Record<string, string> } = {},
  ): Promise<Experiment> {
    if (name.trim() === '') {
      throw new ConfigError('the MLflow experiment name is empty', {
        hint: 'Give the sweep a name; it names the experiment.',
      });
    }

    const existing = await this.getExperimentByName(name, { retry: options.retry });
    if (existing !== undefined) {
      return this.#activeOrThrow(existing);
    }

    const endpoint = `${API}/experiments/create`;
    try {
      await this.#json('POST', endpoint, {
        body: { name, tags: toKeyValues(options.tags ?? {}) },
        subject: `experiment "${name}"`,
        retry: options.retry,
      });
    } catch (error) {
      if (!(error instanceof TrackingError && error.serverCode === 'RESOURCE_ALREADY_EXISTS')) {
        throw error;
      }
    }

    const created = await this.getExperimentByName(name, { retry: options.retry });
    if (created === undefined) {
      throw new TrackingError(`experiment "${name}" was created but cannot be read back`, {
        endpoint: `GET ${API}/experiments/get-by-name`,
        subject: `experiment "${name}"`,
        retryable: true,
      });
    }
    return this.#activeOrThrow(created);
  }

  #activeOrThrow(experiment: Experiment): Experiment {
    if (experiment.lifecycleStage === 'deleted') {
      throw new ExperimentDeletedError(
        experiment.name,
        experiment.experimentId,
        `GET ${API}/experiments/get-by-name`,
      );
    }
    return experiment;
  }

  // ---------------------------------------------------------------- runs

  /**
   * Creates a run in RUNNING state. A `parentRunId` makes it a nested child run (tag
   * `mlflow.parentRunId`, which the MLflow UI uses to nest runs).
   */
  async createRun(
    input: {
      experimentId: string;
      runName?: string;
      parentRunId?: string;
      tags?: Record<string, string>;
      /** Unix time in ms; default now. */
      startTimeMs?: number;
    },
    options: CallOptions = {},
  ): Promise<RunInfo> {
    const tags = { ...input.tags };
    if (input.parentRunId !== undefined) {
      tags['mlflow.parentRunId'] = input.parentRunId;
    }

    const response = await this.#json<{ run: RawRun }>('POST', `${API}/runs/create`, {
      body: {
        experiment_id: input.experimentId,
        run_name: input.runName,
        start_time: input.startTimeMs ?? Date.now(),
        tags: toKeyValues(tags),
      },
      subject: `experiment ${input.experimentId} (run "${input.runName ?? ''}")`,
      retry: options.retry,
    });

    const info = toRunInfo(response.run.info);
    this.#rememberArtifactRoot(info);
    return info;
  }

  /** The run with its params, tags and latest metrics. */
  async getRun(runId: string, options: CallOptions = {}): Promise<Run> {
    const response = await this.#json<{ run: RawRun }>('GET', `${API}/runs/get`, {
      query: { run_id: runId },
      subject: `run ${runId}`,
      retry: options.retry,
    });
    const run = toRun(response.run);
    this.#rememberArtifactRoot(run.info);
    return run;
  }

  /** Sets the status (and end time, run name) of a run; returns the updated facts. */
  async updateRun(
    runId: string,
    update: { status?: RunStatus; endTimeMs?: number; runName?: string },
    options: CallOptions = {},
  ): Promise<RunInfo> {
    const response = await this.#json<{ run_info: RawRunInfo }>('POST', `${API}/runs/update`, {
      body: {
        run_id: runId,
        status: update.status,
        end_time: update.endTimeMs,
        run_name: update.runName,
      },
      subject: `run ${runId}`,
      retry: options.retry,
    });
    return toRunInfo(response.run_info);
  }

  /** Ends a run: sets a terminal status (default FINISHED) and the end time (default now). */
  async endRun(
    runId: string,
    status: Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'> = 'FINISHED',
    endTimeMs: number = Date.now(),
    options: CallOptions = {},
  ): Promise<RunInfo> {
    return await this.updateRun(runId, { status, endTimeMs }, options);
  }

  /**
   * Runs of the given experiments, all pages. `filter` uses MLflow's search syntax, e.g.
   * `tags.trial = '3' and metrics.val_accuracy > 0.8`.
   */
  async searchRuns(
    query: {
      experimentIds: string[];
      filter?: string;
      orderBy?: string[];
      /** Stop after this many runs; default all. */
      maxResults?: number;
      viewType?: RunViewType;
    },
    options: CallOptions = {},
  ): Promise<Run[]> {
    const runs: Run[] = [];
    const limit = query.maxResults ?? Number.POSITIVE_INFINITY;
    let pageToken: string | undefined;

    do {
      const response = await this.#json<{ runs?: RawRun[]; next_page_token?: string }>(
        'POST',
        `${API}/runs/search`,
        {
          body: {
            experiment_ids: query.experimentIds,
            filter: query.filter,
            order_by: query.orderBy,
            run_view_type: query.viewType ?? 'ACTIVE_ONLY',
            max_results: Math.min(1000, limit - runs.length),
            page_token: pageToken,
          },
          subject: `experiments ${query.experimentIds.join(', ')}`,
          retry: options.retry,
        },
      );
      runs.push(...(response.runs ?? []).map(toRun));
      pageToken = response.next_page_token;
    } while (pageToken !== undefined && pageToken !== '' && runs.length < limit);

    return runs;
  }

  /** Active runs of the experiments whose tag `key` equals `value`. */
  async findRunsByTag(
    experimentIds: string[],
    key: string,
    value: string,
    options: CallOptions = {},
  ): Promise<Run[]> {
    return await this.searchRuns({ experimentIds, filter: tagFilter(key, value) }, options);
  }

  // ---------------------------------------------------------------- params, metrics, tags

  /**
   * Logs params, metrics and tags, split into as many `runs/log-batch` requests as MLflow's
   * limits need ({@link LOG_BATCH_LIMITS}). Requests go one after another; if one fails,
   * the ones before it stay logged. Re-sending identical metric points (same key, value,
   * step and timestamp) is harmless: MLflow's SQL store keeps one copy.
   */
  async logBatch(runId: string, data: RunData, options: CallOptions = {}): Promise<void> {
    const requests = splitBatch(data);
    for (const request of requests) {
      await this.#json('POST', `${API}/runs/log-batch`, {
        body: { run_id: runId, ...request.body },
        subject: `run ${runId} (${request.summary})`,
        retry: options.retry,
      });
    }
  }

  /** Logs params (values become strings). */
  async logParams(
    runId: string,
    params: Record<string, string | number | boolean>,
    options: CallOptions = {},
  ): Promise<void> {
    await this.logBatch(runId, { params }, options);
  }

  /** Logs metric points; see {@link MetricPoint} for NaN and Infinity. */
  async logMetrics(
    runId: string,
    metrics: MetricPoint[],
    options: CallOptions = {},
  ): Promise<void> {
    await this.logBatch(runId, { metrics }, options);
  }

  /** Sets (or overwrites) tags. */
  async setTags(
    runId: string,
    tags: Record<string, string>,
    options: CallOptions = {},
  ): Promise<void> {
    await this.logBatch(runId, { tags }, options);
  }

  /** Sets (or overwrites) one tag. */
  async setTag(
    runId: string,
    key: string,
    value: string,
    options: CallOptions = {},
  ): Promise<void> {
    await this.#json('POST', `${API}/runs/set-tag`, {
      body: { run_id: runId, key, value },
      subject: `run ${runId} (tag ${key})`,
      retry: options.retry,
    });
  }

  /** Every point of one metric, all pages, in MLflow's order (step, then timestamp). */
  async getMetricHistory(
    runId: string,
    key: string,
    options: CallOptions = {},
  ): Promise<MetricPoint[]> {
    const points: MetricPoint[] = [];
    let pageToken: string | undefined;

    do {
      const response = await this.#json<{ metrics?: RawMetric[]; next_page_token?: string }>(
        'GET',
        `${API}/metrics/get-history`,
        {
          query: { run_id: runId, metric_key: key, max_results: 25_000, page_token: pageToken },
          subject: `run ${runId} (metric ${key})`,
          retry: options.retry,
        },
      );
      points.push(...(response.metrics ?? []).map(toMetricPoint));
      pageToken = response.next_page_token;
    } while (pageToken !== undefined && pageToken !== '');

    return points;
  }

  // ---------------------------------------------------------------- artifacts

  /**
   * Uploads bytes (or UTF-8 text) as one artifact file of the run, through the server's
   * artifact proxy. Overwrites a file already at that path.
   *
   * @throws TrackingError `ARTIFACT_PATH_INVALID` for an empty, absolute or `..` path, and
   *   `ARTIFACTS_NOT_PROXIED` when the run's artifacts are not behind the server's proxy.
   */
  async uploadArtifact(
    runId: string,
    artifactPath: string,
    data: Uint8Array | string,
    options: CallOptions = {},
  ): Promise<void> {
    const relative = checkArtifactPath(artifactPath, false);
    const root = await this.#artifactRoot(runId);
    const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;

    await this.#send({
      method: 'PUT',
      path: `${ARTIFACTS_API}/${encodePath(`${root}/${relative}`)}`,
      body,
      contentType: 'application/octet-stream',
      subject: `run ${runId} (artifact ${relative})`,
      timeoutMs: this.#artifactTimeoutMs,
      retry: options.retry,
    });
  }

  /** Uploads one local file; `artifactPath` defaults to the file's name. Read whole. */
  async uploadArtifactFile(
    runId: string,
    localFile: string,
    artifactPath: string = path.basename(localFile),
    options: CallOptions = {},
  ): Promise<void> {
    await this.uploadArtifact(runId, artifactPath, await readFile(localFile), options);
  }

  /**
   * Uploads every file under a local folder, keeping its layout, under `artifactPath`
   * (default: the artifact root). Returns the artifact paths written.
   */
  async uploadArtifactDir(
    runId: string,
    localDir: string,
    artifactPath = '',
    options: CallOptions = {},
  ): Promise<string[]> {
    const prefix = artifactPath === '' ? '' : `${checkArtifactPath(artifactPath, false)}/`;
    const entries = await readdir(localDir, { recursive: true, withFileTypes: true });
    const written: string[] = [];

    for (const entry of entries.filter((item) => item.isFile())) {
      const localFile = path.join(entry.parentPath, entry.name);
      const relative = path.relative(localDir, localFile).split(path.sep).join('/');
      await this.uploadArtifactFile(runId, localFile, `${prefix}${relative}`, options);
      written.push(`${prefix}${relative}`);
    }
    return written.sort();
  }

  /**
   * Files and folders of the run's artifacts under `artifactPath` (default: the root), with
   * paths relative to the artifact root. `recursive` walks sub-folders too. A path that does
   * not exist lists as empty (MLflow does not tell it apart from an empty folder).
   */
  async listArtifacts(
    runId: string,
    artifactPath = '',
    options: CallOptions & { recursive?: boolean } = {},
  ): Promise<ArtifactEntry[]> {
    const relative = checkArtifactPath(artifactPath, true);
    const root = await this.#artifactRoot(runId);
    const response = await this.#json<{ files?: RawArtifact[] }>('GET', ARTIFACTS_API, {
      query: { path: relative === '' ? root : `${root}/${relative}` },
      subject: `run ${runId} (artifacts ${relative === '' ? '/' : relative})`,
      retry: options.retry,
    });

    const entries = (response.files ?? []).map((file) => ({
      path: relative === '' ? file.path : `${relative}/${file.path}`,
      isDir: file.is_dir === true,
      sizeBytes: file.file_size === undefined ? undefined : Number(file.file_size),
    }));
    if (options.recursive !== true) {
      return entries;
    }

    const all: ArtifactEntry[] = [];
    for (const entry of entries) {
      all.push(entry);
      if (entry.isDir) {
        all.push(...(await this.listArtifacts(runId, entry.path, options)));
      }
    }
    return all;
  }

  /**
   * The bytes of one artifact file.
   *
   * @throws TrackingError with status 404 when there is no such file.
   */
  async downloadArtifact(
    runId: string,
    artifactPath: string,
    options: CallOptions = {},
  ): Promise<Uint8Array> {
    const relative = checkArtifactPath(artifactPath, false);
    const root = await this.#artifactRoot(runId);
    const response = await this.#send({
      method: 'GET',
      path: `${ARTIFACTS_API}/${encodePath(`${root}/${relative}`)}`,
      subject: `run ${runId} (artifact ${relative})`,
      timeoutMs: this.#artifactTimeoutMs,
      retry: options.retry,
    });
    return response.body;
  }

  #rememberArtifactRoot(info: RunInfo): void {
    const root = proxiedArtifactPath(info.artifactUri);
    if (root !== undefined) {
      this.#artifactRoots.set(info.runId, root);
    }
  }

  /** The run's artifact root as a path under the proxy, e.g. `1/<runId>/artifacts`. */
  async #artifactRoot(runId: string): Promise<string> {
    const cached = this.#artifactRoots.get(runId);
    if (cached !== undefined) {
      return cached;
    }

    const run = await this.getRun(runId);
    const root = proxiedArtifactPath(run.info.artifactUri);
    if (root === undefined) {
      throw new TrackingError(
        `run ${runId} stores artifacts at ${run.info.artifactUri}, which the server does not ` +
          'proxy (only mlflow-artifacts: URIs are)',
        {
          endpoint: `GET ${API}/runs/get`,
          subject: `run ${runId}`,
          code: 'ARTIFACTS_NOT_PROXIED',
          retryable: false,
          hint:
            'Start the server with --serve-artifacts and no --default-artifact-root, and ' +
            'log to an experiment created after that.',
        },
      );
    }
    return root;
  }

  // ---------------------------------------------------------------- model registry

  /**
   * Registers a new version of model `name` (the registered model is created if missing)
   * from a run's artifacts: `source` defaults to `runs:/<runId>/<artifactPath>`; pass
   * `source` to give another URI (e.g. the artifact URI).
   *
   * @throws ConfigError when neither `artifactPath` nor `source` is given.
   */
  async registerModelVersion(
    input: {
      name: string;
      runId: string;
      artifactPath?: string;
      source?: string;
      description?: string;
      tags?: Record<string, string>;
    },
    options: CallOptions = {},
  ): Promise<ModelVersion> {
    const source = input.source ?? runsUri(input.runId, input.artifactPath);
    await this.#ensureRegisteredModel(input.name, options);

    const response = await this.#json<{ model_version: RawModelVersion }>(
      'POST',
      `${API}/model-versions/create`,
      {
        body: {
          name: input.name,
          source,
          run_id: input.runId,
          description: input.description,
          tags: toKeyValues(input.tags ?? {}),
        },
        subject: `registered model "${input.name}" (source ${source})`,
        retry: options.retry,
      },
    );
    return toModelVersion(response.model_version);
  }

  async #ensureRegisteredModel(name: string, options: CallOptions): Promise<void> {
    try {
      await this.#json('GET', `${API}/registered-models/get`, {
        query: { name },
        subject: `registered model "${name}"`,
        retry: options.retry,
      });
      return;
    } catch (error) {
      if (!isNotFound(error)) {
        throw error;
      }
    }

    try {
      await this.#json('POST', `${API}/registered-models/create`, {
        body: { name },
        subject: `registered model "${name}"`,
        retry: options.retry,
      });
    } catch (error) {
      // Another worker registered it first.
      if (!(error instanceof TrackingError && error.serverCode === 'RESOURCE_ALREADY_EXISTS')) {
        throw error;
      }
    }
  }

  // ---------------------------------------------------------------- transport

  async #json<T = Record<string, never>>(
    method: 'GET' | 'POST',
    apiPath: string,
    request: {
      query?: Record<string, string | number | undefined>;
      body?: unknown;
      subject?: string;
      retry?: Partial<RetryPolicy>;
    },
  ): Promise<T> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) {
        search.set(name, String(value));
      }
    }
    const query = search.size === 0 ? '' : `?${search.toString()}`;

    const response = await this.#send({
      method,
      path: `${apiPath}${query}`,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      contentType: 'application/json',
      subject: request.subject,
      timeoutMs: this.#requestTimeoutMs,
      retry: request.retry,
    });

    const text = new TextDecoder().decode(response.body);
    return (text.trim() === '' ? {} : JSON.parse(text)) as T;
  }

  /** One call with retries; returns the body of a 2xx answer. */
  async #send(request: {
    method: 'GET' | 'POST' | 'PUT';
    path: string;
    body?: Uint8Array | string;
    contentType?: string;
    subject: string | undefined;
    timeoutMs: number;
    retry: Partial<RetryPolicy> | undefined;
  }): Promise<{ status: number; body: Uint8Array }> {
    const endpoint = `${request.method} ${request.path.split('?')[0]}`;
    const policy =
      request.retry === undefined
        ? this.#retry
        : resolveRetryPolicy({ ...this.#retry, ...request.retry });
    const headers: Record<string, string> = {};
    if (request.contentType !== undefined && request.body !== undefined) {
      headers['content-type'] = request.contentType;
    }
    if (this.#authorization !== undefined) {
      headers.authorization = this.#authorization;
    }

    const startedAt = performance.now();
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.#attempt(request, headers);
      if (outcome.kind === 'ok') {
        return { status: outcome.status, body: outcome.body };
      }
      if (outcome.kind === 'rejected') {
        throw rejectedError(endpoint, request.subject, outcome);
      }

      const elapsedMs = performance.now() - startedAt;
      const delayMs = backoffDelayMs(policy, attempt - 1);
      if (attempt >= policy.maxAttempts || elapsedMs + delayMs > policy.totalTimeoutMs) {
        throw exhaustedError(this.url, endpoint, request.subject, outcome, attempt, elapsedMs);
      }

      this.#log.warn(
        { endpoint, subject: request.subject, attempt, delayMs, reason: outcome.reason },
        'mlflow request failed, retrying',
      );
      await sleep(delayMs);
    }
  }

  async #attempt(
    request: { method: string; path: string; body?: Uint8Array | string; timeoutMs: number },
    headers: Record<string, string>,
  ): Promise<AttemptOutcome> {
    let response: Response;
    let body: Uint8Array;
    try {
      response = await fetch(`${this.url}${request.path}`, {
        method: request.method,
        headers,
        body: request.body,
        signal: AbortSignal.timeout(request.timeoutMs),
      });
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      return { kind: 'failed', reason: describeNetworkError(error), cause: error };
    }

    if (response.ok) {
      return { kind: 'ok', status: response.status, body };
    }

    const problem = parseProblem(body, response.status, response.statusText);
    const kind = isRetryableStatus(response.status) ? 'failed' : 'rejected';
    const reason = `HTTP ${response.status}${problem.code === undefined ? '' : ` ${problem.code}`}`;
    return { kind, status: response.status, reason: `${reason}: ${problem.message}`, ...problem };
  }
}

// ------------------------------------------------------------------ transport helpers

type AttemptOutcome =
  | { kind: 'ok'; status: number; body: Uint8Array }
  | {
      kind: 'failed' | 'rejected';
      reason: string;
      status?: number;
      code?: string;
      message?: string;
      cause?: unknown;
    };

function parseProblem(body: Uint8Array, status: number, statusText: string) {
  const text = new TextDecoder().decode(body).trim();
  try {
    const parsed = JSON.parse(text) as { error_code?: unknown; message?: unknown };
    return {
      code: typeof parsed.error_code === 'string' ? parsed.error_code : undefined,
      message: truncate(typeof parsed.message === 'string' ? parsed.message : text),
    };
  } catch {
    return { code: undefined, message: truncate(text === '' ? `${status} ${statusText}` : text) };
  }
}

function rejectedError(
  endpoint: string,
  subject: string | undefined,
  outcome: Extract<AttemptOutcome, { kind: 'failed' | 'rejected' }>,
): TrackingError {
  const about = subject === undefined ? '' : ` for ${subject}`;
  let hint: string | undefined;
  if (outcome.status === 401 || outcome.status === 403) {
    hint =
      'Check MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.';
  } else if (outcome.code === 'RESOURCE_DOES_NOT_EXIST') {
    hint = 'Check the id or name; it may have been deleted or live on another MLflow server.';
  }

  return new TrackingError(`MLflow rejected ${endpoint}${about} (${outcome.reason})`, {
    endpoint,
    subject,
    status: outcome.status,
    serverCode: outcome.code,
    retryable: false,
    hint,
  });
}

function exhaustedError(
  url: string,
  endpoint: string,
  subject: string | undefined,
  outcome: Extract<AttemptOutcome, { kind: 'failed' | 'rejected' }>,
  attempts: number,
  elapsedMs: number,
): TrackingError {
  const about = subject === undefined ? '' : ` for ${subject}`;
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  const seconds = (elapsedMs / 1000).toFixed(1);
  const what = outcome.status === undefined ? 'did not answer' : 'kept failing';

  return new TrackingError(
    `MLflow at ${url} ${what} ${endpoint}${about} after ${tries} in ${seconds} s ` +
      `(last: ${outcome.reason})`,
    {
      endpoint,
      subject,
      status: outcome.status,
      serverCode: outcome.code,
      retryable: true,
      hint: `Check that the MLflow server at ${url} is running and reachable.`,
      cause: outcome.cause,
    },
  );
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  if (error.name === 'TimeoutError') {
    return 'timed out';
  }

  // undici reports "fetch failed" and puts the socket error in `cause`.
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? `${error.message}: ${cause.message}` : `${error.message}: ${code}`;
  }
  return error.message;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof TrackingError &&
    (error.serverCode === 'RESOURCE_DOES_NOT_EXIST' || error.status === 404)
  );
}

function truncate(text: string, max = 2000): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} chars)`;
}

// ------------------------------------------------------------------ options helpers

function parseTrackingUri(uri: string) {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (error) {
    throw new ConfigError(`the MLflow tracking URI is not a URL: "${redactUserinfo(uri)}"`, {
      hint: 'Use http://host:port, e.g. MLFLOW_TRACKING_URI=http://127.0.0.1:5000.',
      cause: error,
    });
  }

  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  url.username = '';
  url.password = '';

  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(
      `the MLflow tracking URI must be http or https, got ${url.protocol} in "${url.href}"`,
      { hint: 'Point MLFLOW_TRACKING_URI at a tracking server (mlflow server), not a store.' },
    );
  }
  return { url: url.href.replace(/\/+$/, ''), username, password };
}

function redactUserinfo(uri: string): string {
  return uri.replace(/\/\/[^/@]*@/, '//***@');
}

function authorizationHeader(
  username: string | undefined,
  password: string | undefined,
  token: string | undefined,
): string | undefined {
  if ((username === undefined) !== (password === undefined)) {
    const missing = username === undefined ? 'username' : 'password';
    throw new ConfigError(`an MLflow ${missing} is missing: Basic auth needs both`, {
      hint: 'Set both MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or neither.',
    });
  }

  if (username !== undefined && password !== undefined) {
    return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  }
  return token === undefined ? undefined : `Bearer ${token}`;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`MLflow client option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

// ------------------------------------------------------------------ artifact paths

/** `mlflow-artifacts:/1/<run>/artifacts` -> `1/<run>/artifacts`; undefined for other URIs. */
function proxiedArtifactPath(artifactUri: string): string | undefined {
  if (!artifactUri.startsWith('mlflow-artifacts:')) {
    return undefined;
  }
  const url = new URL(artifactUri);
  return decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
}

/**
 * Checks a relative artifact path and returns it without surrounding slashes.
 *
 * @throws TrackingError `ARTIFACT_PATH_INVALID` for `..` or `.` segments, backslashes, or an
 *   empty path where one is required.
 */
function checkArtifactPath(artifactPath: string, allowEmpty: boolean): string {
  const trimmed = artifactPath.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  const bad =
    (!allowEmpty && segments.length === 0) ||
    trimmed.includes('\\') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..');

  if (bad) {
    throw new TrackingError(
      `artifact path "${artifactPath}" is not a relative path inside the run's artifacts`,
      {
        endpoint: ARTIFACTS_API,
        subject: `artifact ${artifactPath}`,
        code: 'ARTIFACT_PATH_INVALID',
        retryable: false,
        hint: 'Use /-separated names without "." or ".." segments, e.g. "model/model.json".',
      },
    );
  }
  return trimmed;
}

function encodePath(artifactPath: string): string {
  return artifactPath.split('/').map(encodeURIComponent).join('/');
}

function runsUri(runId: string, artifactPath: string | undefined): string {
  if (artifactPath === undefined) {
    throw new ConfigError(
      `registering a model version of run ${runId} needs artifactPath or source`,
      { hint: 'Pass artifactPath: the folder the model was uploaded to, e.g. "model".' },
    );
  }
  return `runs:/${runId}/${checkArtifactPath(artifactPath, false)}`;
}

/**
 * A search filter matching runs whose tag `key` equals `value`, quoted for MLflow.
 *
 * @throws ConfigError when the key holds a backtick or the value holds both quote kinds
 *   (MLflow's filter grammar has no escapes).
 */
export function tagFilter(key: string, value: string): string {
  if (key.includes('`')) {
    throw new ConfigError(`tag key ${key} contains a backtick, which MLflow filters cannot quote`);
  }
  if (!value.includes("'")) {
    return `tags.\`${key}\` = '${value}'`;
  }
  if (!value.includes('"')) {
    return `tags.\`${key}\` = "${value}"`;
  }
  throw new ConfigError(
    `tag value ${value} for ${key} contains both ' and ", which MLflow filters cannot quote`,
  );
}
