/**
 * Finding a trained model in MLflow and bringing it to disk: by run id, or as the best trial
 * of a sweep, with what a predictor needs besides the weights (class names, pixel rescale).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ConfigError } from '../lib/errors.js';
import { tagFilter, type MlflowClient, type Run } from './client.js';
import { TrackingError } from './errors.js';
import { ARTIFACTS, RESCALE_PARAM, TAGS } from './tags.js';

/** Which run holds the model, and how it was found. */
export interface ModelRun {
  runId: string;
  /** The trial the run recorded, from its `sweep.trial_id` tag. */
  trialId: string | undefined;
  /** The sweep, from the run's `sweep.id` tag (or the `best:` reference). */
  sweepId: string | undefined;
}

/** A model downloaded by {@link downloadModel}. */
export interface DownloadedModel {
  /** Absolute path of `model.json`; load it with `tf.loadLayersModel('file://' + path)`. */
  modelJson: string;
  /** Class names, index i being output i of the model (from the run's `metrics.json`). */
  classNames: string[];
  /** Pixel multiplier the model was trained with (param `augmentation.rescale`). */
  rescale: number;
  /** False when the run had no rescale param and the default 1/255 was assumed. */
  rescaleRecorded: boolean;
}

const RUN_ID_PATTERN = /^[0-9a-f]{32}$/;
const SWEEP_ID_PATTERN = /^([a-z0-9][a-z0-9-]*)-[0-9a-f]{8}$/;
const BEST_PREFIX = 'best:';

/**
 * Resolves a model reference: a run id (32 hex digits, as the MLflow UI shows it), or
 * `best:<sweep id>`, the run of the trial the sweep's parent run names in `best.trial_id`.
 *
 * @throws ConfigError for a malformed reference, an unknown run, experiment or sweep, or a
 *   sweep with no best trial yet; each message says what to run or pass instead.
 * @throws TrackingError when MLflow cannot be reached (retryable).
 */
export async function resolveModelRun(client: MlflowClient, reference: string): Promise<ModelRun> {
  const parsed = parseModelReference(reference);
  if ('sweepId' in parsed) return await bestTrialRun(client, parsed);

  const run = await getRunOrExplain(client, parsed.runId);
  return {
    runId: parsed.runId,
    trialId: run.tags[TAGS.trialId],
    sweepId: run.tags[TAGS.sweepId],
  };
}

/** A model reference, checked: a run id, or the sweep of a `best:` reference. */
export type ModelReference = { runId: string } | { sweepId: string; experimentName: string };

/**
 * Checks the form of a model reference (no server needed).
 *
 * @throws ConfigError for a reference that is neither a run id nor `best:<sweep id>`.
 */
export function parseModelReference(reference: string): ModelReference {
  const trimmed = reference.trim();
  if (trimmed.startsWith(BEST_PREFIX)) {
    const sweepId = trimmed.slice(BEST_PREFIX.length);
    const match = SWEEP_ID_PATTERN.exec(sweepId);
    if (match === null) {
      throw new ConfigError(
        `--model best:${sweepId}: "${sweepId}" is not a sweep id (<spec name>-<8 hex digits>)`,
        { hint: '`sweep plan <spec>` prints the sweep id, e.g. best:dropout-1f0c9a2b.' },
      );
    }
    return { sweepId, experimentName: match[1] as string };
  }

  if (!RUN_ID_PATTERN.test(trimmed)) {
    throw new ConfigError(
      `--model ${JSON.stringify(reference)} is neither a run id (32 hex digits) nor ` +
        'best:<sweep id>',
      { hint: 'Copy a run id from the MLflow UI, or pass e.g. best:dropout-1f0c9a2b.' },
    );
  }
  return { runId: trimmed };
}

async function bestTrialRun(
  client: MlflowClient,
  { sweepId, experimentName }: { sweepId: string; experimentName: string },
): Promise<ModelRun> {
  const experiment = await client.getExperimentByName(experimentName);
  if (experiment === undefined || experiment.lifecycleStage !== 'active') {
    throw new ConfigError(
      `MLflow at ${client.url} has no experiment "${experimentName}", so sweep ${sweepId} ` +
        'was not recorded there',
      { hint: 'Check --tracking-uri (or MLFLOW_TRACKING_URI) and the sweep id.' },
    );
  }

  const parents = await client.searchRuns({
    experimentIds: [experiment.experimentId],
    filter: `${tagFilter(TAGS.sweepId, sweepId)} and ${tagFilter(TAGS.role, 'parent')}`,
    maxResults: 1,
  });
  const parent = parents[0];
  if (parent === undefined) {
    throw new ConfigError(
      `experiment "${experimentName}" in MLflow at ${client.url} has no run of sweep ${sweepId}`,
      { hint: 'Check the sweep id: `sweep plan <spec>` prints it.' },
    );
  }

  const bestTrialId = parent.tags[TAGS.bestTrialId];
  if (bestTrialId === undefined) {
    throw new ConfigError(
      `sweep ${sweepId} has no best trial yet (tag ${TAGS.bestTrialId} of run ` +
        `${parent.info.runId} is not set): it is still running, or no trial finished`,
      { hint: 'Wait for the sweep to end, or pass the run id of a finished trial instead.' },
    );
  }

  const children = await client.searchRuns({
    experimentIds: [experiment.experimentId],
    filter: tagFilter(TAGS.trialId, bestTrialId),
    orderBy: ['attributes.start_time ASC'],
    maxResults: 1,
  });
  const child = children[0];
  if (child === undefined) {
    throw new ConfigError(
      `sweep ${sweepId} names ${bestTrialId} as its best trial, but MLflow at ${client.url} ` +
        'has no run of that trial',
    );
  }
  return { runId: child.info.runId, trialId: bestTrialId, sweepId };
}

/**
 * Downloads the run's `model/` artifacts (model.json and weight files) into
 * `<folder>/model/`, and reads the class names from its `metrics.json` artifact and the
 * rescale from its `augmentation.rescale` param (1/255 when absent, as the spec's default).
 *
 * @throws ConfigError when the run has no `model/model.json` (it did not finish) or no
 *   usable `metrics.json`.
 * @throws TrackingError when MLflow cannot be reached (retryable).
 */
export async function downloadModel(
  client: MlflowClient,
  runId: string,
  folder: string,
): Promise<DownloadedModel> {
  const run = await getRunOrExplain(client, runId);
  const entries = await client.listArtifacts(runId, ARTIFACTS.model, { recursive: true });
  const files = entries.filter((entry) => !entry.isDir).map((entry) => entry.path);
  if (!files.includes(`${ARTIFACTS.model}/model.json`)) {
    throw new ConfigError(
      `run ${runId} has no ${ARTIFACTS.model}/model.json artifact; only trials that finished ` +
        'upload their model',
      { hint: 'Pick a FINISHED trial run in the MLflow UI, or use best:<sweep id>.' },
    );
  }

  for (const file of files) {
    const local = path.join(folder, ...file.split('/'));
    await mkdir(path.dirname(local), { recursive: true });
    await writeFile(local, await client.downloadArtifact(runId, file));
  }

  const classNames = await readClassNames(client, runId);
  const recorded = run.params[RESCALE_PARAM];
  const rescale = recorded === undefined ? 1 / 255 : Number(recorded);
  if (!(Number.isFinite(rescale) && rescale > 0)) {
    throw new ConfigError(
      `run ${runId} has param ${RESCALE_PARAM}=${JSON.stringify(recorded)}, not a positive number`,
    );
  }

  return {
    modelJson: path.join(folder, ARTIFACTS.model, 'model.json'),
    classNames,
    rescale,
    rescaleRecorded: recorded !== undefined,
  };
}

async function readClassNames(client: MlflowClient, runId: string): Promise<string[]> {
  let parsed: unknown;
  try {
    const bytes = await client.downloadArtifact(runId, ARTIFACTS.metrics);
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    if (error instanceof TrackingError && error.retryable) {
      throw error;
    }
    throw new ConfigError(
      `run ${runId} has no readable ${ARTIFACTS.metrics} artifact, which names the classes`,
      { hint: 'Only trials that finished upload it; pick a FINISHED trial run.', cause: error },
    );
  }

  const names = (parsed as { classNames?: unknown }).classNames;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    throw new ConfigError(
      `${ARTIFACTS.metrics} of run ${runId} has no classNames list of strings`,
    );
  }
  return names as string[];
}

async function getRunOrExplain(client: MlflowClient, runId: string): Promise<Run> {
  try {
    return await client.getRun(runId);
  } catch (error) {
    if (error instanceof TrackingError && error.serverCode === 'RESOURCE_DOES_NOT_EXIST') {
      throw new ConfigError(`MLflow at ${client.url} has no run ${runId}`, {
        hint: 'Check the run id and --tracking-uri (or MLFLOW_TRACKING_URI).',
        cause: error,
      });
    }
    throw error;
  }
}
