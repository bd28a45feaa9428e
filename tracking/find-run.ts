/**
 * Get-or-create for MLflow runs keyed by a tag, and params that are logged only once. Shared
 * by the sweep and trial recorders, which must reuse their run when an activity is retried or
 * a sweep resumed.
 */
import type { Logger } from '../lib/logger.js';
import { tagFilter, type MlflowClient, type Run, type RunInfo } from './client.js';
import { TAGS } from './tags.js';

/** What {@link findOrCreateRun} looks for, and what it creates when nothing matches. */
export interface RunKey {
  experimentId: string;
  /** The tag that identifies the run, e.g. `{ key: 'sweep.trial_id', value: '...' }`. */
  key: { key: string; value: string };
  /** Also required on a match: the run's role (`sweep.role`). */
  role: string;
  runName: string;
  /** Makes a created run a nested child of this run. */
  parentRunId?: string;
  /** Tags of a created run (the key tag and the role are added). */
  tags?: Record<string, string>;
}

/** The run found or created. */
export interface FoundRun {
  run: Run;
  /** True when the run existed before this call. */
  reused: boolean;
}

/**
 * The active run of `key.experimentId` whose tag `key.key` equals `key.value` and whose role
 * matches, created (RUNNING) when there is none.
 *
 * When several match (a create whose answer was lost and was retried, or two attempts racing),
 * the earliest started wins and the others are ended KILLED, so exactly one run remains.
 * A run found in a terminal state is set back to RUNNING.
 *
 * @throws TrackingError from the client (retryable when MLflow is unreachable).
 */
export async function findOrCreateRun(
  client: MlflowClient,
  key: RunKey,
  log: Logger,
): Promise<FoundRun> {
  const existing = await findRuns(client, key);
  if (existing.length > 0) {
    const run = await keepEarliest(client, existing, log);
    if (run.info.status !== 'RUNNING') {
      run.info = await client.updateRun(run.info.runId, { status: 'RUNNING' });
    }
    return { run, reused: true };
  }

  const tags = { ...key.tags, [key.key.key]: key.key.value, [TAGS.role]: key.role };
  const created: RunInfo = await client.createRun({
    experimentId: key.experimentId,
    runName: key.runName,
    parentRunId: key.parentRunId,
    tags,
  });

  // A retried create may have left a twin; searching again settles on one run.
  const after = await findRuns(client, key);
  if (after.length > 1) {
    const run = await keepEarliest(client, after, log);
    return { run, reused: run.info.runId !== created.runId };
  }
  return { run: after[0] ?? { info: created, params: {}, tags, metrics: {} }, reused: false };
}

async function findRuns(client: MlflowClient, key: RunKey): Promise<Run[]> {
  const filter = `${tagFilter(key.key.key, key.key.value)} and ${tagFilter(TAGS.role, key.role)}`;
  return await client.searchRuns({
    experimentIds: [key.experimentId],
    filter,
    orderBy: ['attributes.start_time ASC'],
  });
}

async function keepEarliest(client: MlflowClient, runs: Run[], log: Logger): Promise<Run> {
  const sorted = [...runs].sort((a, b) => a.info.startTimeMs - b.info.startTimeMs);
  const [first, ...twins] = sorted as [Run, ...Run[]];

  for (const twin of twins) {
    log.warn(
      { runId: first.info.runId, duplicateRunId: twin.info.runId },
      'duplicate mlflow run ended as killed',
    );
    if (twin.info.status === 'RUNNING') {
      await client.endRun(twin.info.runId, 'KILLED');
    }
  }
  return first;
}

/**
 * Logs the params `run` does not have yet. MLflow params cannot change once logged, so a
 * param already there with another value is left alone and reported in the result (and a
 * warning), rather than failing the run.
 *
 * @returns the keys whose stored value differs from `params`.
 */
export async function logMissingParams(
  client: MlflowClient,
  run: Run,
  params: Record<string, string>,
  log: Logger,
): Promise<string[]> {
  const missing: Record<string, string> = {};
  const conflicts: string[] = [];

  for (const [key, value] of Object.entries(params)) {
    const stored = run.params[key];
    if (stored === undefined) {
      missing[key] = value;
    } else if (stored !== value) {
      conflicts.push(key);
    }
  }

  if (Object.keys(missing).length > 0) {
    await client.logParams(run.info.runId, missing);
    Object.assign(run.params, missing);
  }
  if (conflicts.length > 0) {
    log.warn(
      { runId: run.info.runId, params: conflicts },
      'mlflow params differ from the stored ones, keeping the stored values',
    );
  }
  return conflicts;
}
