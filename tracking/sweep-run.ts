/**
 * What a sweep records in MLflow: one experiment per sweep name, and in it one parent run per
 * sweep id under which every trial's run is nested. The parent run holds the grid, the spec
 * file, links to the code and the workflow, and, once the sweep ends, the leaderboard, the
 * accuracy-by-axis figure, the best trial's values and the best model, registered under the
 * sweep's name.
 *
 * Starting the same sweep again (a resumed workflow, a retried activity) finds the parent run
 * by its `sweep.id` tag and reuses it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { logger as rootLogger, type Logger } from '../lib/logger.js';
import { writeAxisPlot } from '../report/axis-plot.js';
import type { LoadedSpec } from '../spec/load.js';
import type { SweepPlan } from '../spec/plan.js';
import { tagFilter, type MlflowClient, type ModelVersion, type Run } from './client.js';
import { findOrCreateRun, logMissingParams } from './find-run.js';
import {
  formatValue,
  leaderboardCsv,
  leaderboardMarkdown,
  rankTrials,
  type LeaderboardRow,
  type LeaderboardTrial,
} from './leaderboard.js';
import { MetricBuffer } from './metric-buffer.js';
import { ARTIFACTS, TAGS } from './tags.js';

/**
 * Everything needed to find the sweep's runs again: plain JSON, small, safe to pass through
 * a Temporal workflow to later activities.
 */
export interface SweepRunRef {
  experimentId: string;
  /** The sweep's parent run. */
  parentRunId: string;
  sweepId: string;
  /** The spec's name: names the experiment and the registered model. */
  sweepName: string;
}

/** Options of {@link SweepRecorder.start}. */
export interface SweepRecorderInput {
  client: MlflowClient;
  plan: SweepPlan;
  /** The loaded spec: its name, hash, file path and text (uploaded as `spec/<file name>`). */
  spec: Pick<LoadedSpec, 'file' | 'text' | 'hash' | 'spec'>;
  /** Link to the sweep's workflow in the Temporal UI; the tag is left out when absent. */
  temporalWorkflowUrl?: string;
  /**
   * Commit of the code starting the sweep. Default: `git rev-parse HEAD` in this code's
   * folder; null (or no git checkout there) leaves the `git.commit` tag out.
   */
  gitCommit?: string | null;
  /** Default: the shared logger. */
  logger?: Logger;
}

/** Options of {@link SweepRecorder.finish}. */
export interface SweepFinishInput {
  /**
   * Every trial with its grid values, state and results, in plan order. The sweep
   * workflow's status rows (`SweepResult.trials`) fit as they are.
   */
  trials: readonly LeaderboardTrial[];
  /** Status the parent run ends with; default FINISHED. */
  status?: 'FINISHED' | 'FAILED' | 'KILLED';
  /** Register the best trial's model; default true. */
  registerModel?: boolean;
}

/** What {@link SweepRecorder.finish} recorded. */
export interface SweepFinishResult {
  /** Every trial, ranked ones first (see `rankTrials`). */
  leaderboard: LeaderboardRow[];
  /** The rank-1 trial, when any trial finished with a validation accuracy. */
  best: LeaderboardRow | undefined;
  /** The registered version of the best model, when one was registered (or already was). */
  modelVersion: ModelVersion | { name: string; version: string } | undefined;
  /** Artifact paths written on the parent run. */
  artifacts: string[];
}

/** Metrics of the parent run, at step = number of trials done. */
const PARENT_METRICS = ['best_val_accuracy', 'best_test_accuracy', 'trials_done'] as const;

/** Longest param value MLflow 3 accepts. */
const MAX_PARAM_LENGTH = 6000;

/**
 * The sweep's parent run. Create with {@link SweepRecorder.start} (or rebuild from a
 * {@link SweepRunRef} with {@link SweepRecorder.attach} in a later activity), pass
 * `ref.experimentId` and `ref.parentRunId` to every `TrialRecorder.start`, and call
 * `finish()` once every trial has ended.
 */
export class SweepRecorder {
  /** Plain ids to pass on (see {@link SweepRunRef}). */
  readonly ref: SweepRunRef;
  /** True when `start` found the parent run from an earlier start. */
  readonly reused: boolean;

  readonly #client: MlflowClient;
  readonly #log: Logger;

  private constructor(client: MlflowClient, ref: SweepRunRef, reused: boolean, log: Logger) {
    this.#client = client;
    this.ref = ref;
    this.reused = reused;
    this.#log = log;
  }

  /**
   * Gets or creates the experiment named after the sweep (a new one opens in the MLflow UI's
   * model-training view), then finds the parent run by tag `sweep.id` or creates it, named
   * after the sweep id. Logs the params not stored yet: `grid.<axis>` (the axis's values as a
   * JSON list), `search.method`, `search.count` and `search.seed` (random search) and
   * `sweep.trials`; sets the tags `sweep.id`, `sweep.spec_hash`, `git.commit`,
   * `temporal.workflow_url` and a description; uploads the spec file as
   * `spec/<file name>`. A parent run found ended is set back to RUNNING.
   *
   * @throws ExperimentDeletedError when the sweep's experiment is in MLflow's trash.
   * @throws TrackingError when MLflow cannot be reached (retryable) or refuses a call.
   */
  static async start(input: SweepRecorderInput): Promise<SweepRecorder> {
    const { client, plan, spec } = input;
    const log = (input.logger ?? rootLogger).child({ sweepId: plan.sweepId });

    const experiment = await client.getOrCreateExperiment(spec.spec.name, {
      tags: { [TAGS.experimentKind]: 'custom_model_development' },
    });
    const { run, reused } = await findOrCreateRun(
      client,
      {
        experimentId: experiment.experimentId,
        key: { key: TAGS.sweepId, value: plan.sweepId },
        role: 'parent',
        runName: plan.sweepId,
      },
      log,
    );
    const runId = run.info.runId;

    await logMissingParams(client, run, sweepParams(plan), log);
    await client.setTags(runId, await sweepTags(input));
    await client.uploadArtifact(
      runId,
      `${ARTIFACTS.spec}/${path.basename(spec.file)}`,
      spec.text,
    );

    log.info(
      { runId, experimentId: experiment.experimentId, reused },
      reused ? 'mlflow sweep run reused' : 'mlflow sweep run created',
    );
    const ref: SweepRunRef = {
      experimentId: experiment.experimentId,
      parentRunId: runId,
      sweepId: plan.sweepId,
      sweepName: spec.spec.name,
    };
    return new SweepRecorder(client, ref, reused, log);
  }

  /** A recorder for a parent run created earlier, e.g. by another activity. Makes no call. */
  static attach(client: MlflowClient, ref: SweepRunRef, logger?: Logger): SweepRecorder {
    const log = (logger ?? rootLogger).child({ sweepId: ref.sweepId });
    return new SweepRecorder(client, ref, true, log);
  }

  /**
   * Records the outcome and ends the parent run:
   * 1. `leaderboard.csv` and `leaderboard.md` (see `rankTrials`; run ids from the children);
   * 2. `val-accuracy-by-axis.png`, when the sweep has axes and a ranked trial;
   * 3. tags `best.trial_id` and `best.<axis>` (each value as text), metrics
   *    best_val_accuracy, best_test_accuracy and trials_done;
   * 4. registers the best trial's `model/` artifact as a new version of the registered model
   *    named after the sweep, unless this parent run already registered that trial's model
   *    (tag `best.model_version`), or the trial's run has no `model/model.json`;
   * 5. ends the run with `status`.
   *
   * Safe to call again (a retried activity, a resumed sweep that ends once more): artifacts
   * and tags are overwritten and the model is registered again only when the best trial
   * changed. Note: a crash between registering and tagging registers one more version on
   * the retry.
   *
   * @throws TrackingError when MLflow cannot be reached (retryable) or refuses a call; the
   *   parent run then stays RUNNING.
   */
  async finish(input: SweepFinishInput): Promise<SweepFinishResult> {
    const { experimentId, parentRunId } = this.ref;
    const started = performance.now();

    const children = await this.#trialRuns();
    const runIds = new Map(
      children.map((child) => [child.tags[TAGS.trialId] ?? '', child.info.runId] as const),
    );
    const leaderboard = rankTrials(input.trials, runIds);
    const best = leaderboard[0]?.rank === 1 ? leaderboard[0] : undefined;
    const axes = axesOf(input.trials);

    const artifacts = await this.#uploadReports(leaderboard, axes, input.trials);
    await this.#logOutcome(leaderboard, best, axes);
    const modelVersion =
      best !== undefined && input.registerModel !== false
        ? await this.#registerBest(best)
        : undefined;

    const status = input.status ?? 'FINISHED';
    await this.#client.endRun(parentRunId, status);
    this.#log.info(
      {
        runId: parentRunId,
        experimentId,
        status,
        bestTrialId: best?.trialId,
        modelVersion: modelVersion?.version,
        durationMs: Math.round(performance.now() - started),
      },
      'mlflow sweep run finished',
    );
    return { leaderboard, best, modelVersion, artifacts };
  }

  /**
   * The sweep's trial runs (nested under the parent run), latest started first, so that in a
   * map by trial id the earliest run of a trial, the one `findOrCreateRun` keeps, wins.
   */
  async #trialRuns(): Promise<Run[]> {
    return await this.#client.searchRuns({
      experimentIds: [this.ref.experimentId],
      filter: tagFilter(TAGS.parentRunId, this.ref.parentRunId),
      orderBy: ['attributes.start_time DESC'],
    });
  }

  async #uploadReports(
    leaderboard: LeaderboardRow[],
    axes: string[],
    trials: readonly LeaderboardTrial[],
  ): Promise<string[]> {
    const runId = this.ref.parentRunId;
    const title = `Leaderboard of sweep ${this.ref.sweepId}`;
    await this.#client.uploadArtifact(
      runId,
      ARTIFACTS.leaderboardCsv,
      leaderboardCsv(leaderboard, axes),
    );
    await this.#client.uploadArtifact(
      runId,
      ARTIFACTS.leaderboardMarkdown,
      leaderboardMarkdown(leaderboard, axes, title),
    );
    const artifacts: string[] = [ARTIFACTS.leaderboardCsv, ARTIFACTS.leaderboardMarkdown];

    // Plan order, so each panel lists an axis's values in the order the spec writes them.
    const byId = new Map(leaderboard.map((row) => [row.trialId, row]));
    const ranked = trials
      .map((trial) => byId.get(trial.id))
      .filter((row): row is LeaderboardRow => row?.rank !== undefined);
    if (axes.length === 0 || ranked.length === 0) {
      return artifacts;
    }

    const folder = await mkdtemp(path.join(tmpdir(), 'sweep-axis-plot-'));
    try {
      const file = path.join(folder, ARTIFACTS.axisPlot);
      const points = ranked.map((row) => ({
        values: row.values,
        valAccuracy: row.bestValAccuracy ?? Number.NaN,
        best: row.rank === 1,
      }));
      await writeAxisPlot(points, axes, file, {
        title: `Sweep ${this.ref.sweepId}`,
      });
      await this.#client.uploadArtifact(runId, ARTIFACTS.axisPlot, await readFile(file));
      artifacts.push(ARTIFACTS.axisPlot);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    return artifacts;
  }

  async #logOutcome(
    leaderboard: LeaderboardRow[],
    best: LeaderboardRow | undefined,
    axes: string[],
  ): Promise<void> {
    const runId = this.ref.parentRunId;
    const done = leaderboard.filter((row) => row.state === 'done').length;

    if (best !== undefined) {
      const tags: Record<string, string> = { [TAGS.bestTrialId]: best.trialId };
      for (const axis of axes) {
        tags[`${TAGS.bestValuePrefix}${axis}`] = formatValue(best.values[axis]);
      }
      await this.#client.setTags(runId, tags);
    }

    // Exactly once per (metric, trials done): a retried finish does not add points, while a
    // resumed sweep that finishes with more trials done adds a new step.
    const buffer = await MetricBuffer.fromServer(this.#client, runId, [...PARENT_METRICS], {
      logger: this.#log,
    });
    const values: Record<(typeof PARENT_METRICS)[number], number | undefined> = {
      best_val_accuracy: best?.bestValAccuracy,
      best_test_accuracy: best?.testAccuracy,
      trials_done: done,
    };
    for (const key of PARENT_METRICS) {
      const value = values[key];
      if (value !== undefined) {
        await buffer.log(key, value, done);
      }
    }
    await buffer.close(60_000);
  }

  async #registerBest(best: LeaderboardRow): Promise<SweepFinishResult['modelVersion']> {
    const parent = await this.#client.getRun(this.ref.parentRunId);
    const registered = parent.tags[TAGS.bestModelVersion];
    const registeredTrial = parent.tags[TAGS.bestModelTrialId];
    if (registered !== undefined && registeredTrial === best.trialId) {
      const [name = '', version = ''] = splitOnce(registered, '/');
      return { name, version };
    }

    const runId = best.runId;
    const hasModel =
      runId !== undefined &&
      (await this.#client.listArtifacts(runId, ARTIFACTS.model)).some(
        (entry) => entry.path === `${ARTIFACTS.model}/model.json`,
      );
    if (runId === undefined || !hasModel) {
      this.#log.warn(
        { trialId: best.trialId, runId },
        'best trial has no model artifact, not registered',
      );
      return undefined;
    }

    const version = await this.#client.registerModelVersion({
      name: this.ref.sweepName,
      runId,
      artifactPath: ARTIFACTS.model,
      description: `Best trial ${best.trialId} (${best.name}) of sweep ${this.ref.sweepId}`,
      tags: { [TAGS.sweepId]: this.ref.sweepId, [TAGS.trialId]: best.trialId },
    });
    await this.#client.setTags(this.ref.parentRunId, {
      [TAGS.bestModelVersion]: `${version.name}/${version.version}`,
      [TAGS.bestModelTrialId]: best.trialId,
    });
    return version;
  }
}

/**
 * The parent run's params: `grid.<axis>` as a JSON list of the axis's values (cut to MLflow's
 * 6000 characters), `search.method`, `search.count` and `search.seed` for random search,
 * and `sweep.trials` (trials planned).
 */
export function sweepParams(plan: SweepPlan): Record<string, string> {
  const params: Record<string, string> = {
    'search.method': plan.method,
    'sweep.trials': String(plan.total),
  };

  plan.axes.forEach((axis) => {
    const values: unknown[] = [];
    for (const trial of plan.trials) {
      const value = trial.values[axis];
      if (!values.some((seen) => JSON.stringify(seen) === JSON.stringify(value))) {
        values.push(value);
      }
    }
    params[`grid.${axis}`] = capParam(JSON.stringify(values));
  });
  return params;
}

function capParam(value: string): string {
  return value.length <= MAX_PARAM_LENGTH ? value : `${value.slice(0, MAX_PARAM_LENGTH - 3)}...`;
}

async function sweepTags(input: SweepRecorderInput): Promise<Record<string, string>> {
  const { plan, spec } = input;
  const tags: Record<string, string> = {
    [TAGS.sweepId]: plan.sweepId,
    [TAGS.specHash]: spec.hash,
    [TAGS.note]: describeSweep(plan, spec),
  };

  const commit =
    input.gitCommit === undefined ? await detectGitCommit(import.meta.dirname) : input.gitCommit;
  if (commit !== null && commit !== undefined) {
    tags[TAGS.gitCommit] = commit;
  }
  if (input.temporalWorkflowUrl !== undefined) {
    tags[TAGS.workflowUrl] = input.temporalWorkflowUrl;
  }
  return tags;
}

function describeSweep(plan: SweepPlan, spec: SweepRecorderInput['spec']): string {
  const axes = plan.axes.length === 0 ? 'no grid' : `grid over ${plan.axes.join(', ')}`;
  const lines = [
    `Sweep \`${plan.sweepId}\`: ${plan.total} trial(s), ${plan.method} search, ${axes}.`,
  ];
  if (spec.spec.description !== undefined) {
    lines.push('', spec.spec.description);
  }
  return lines.join('\n');
}

/**
 * `git rev-parse HEAD` in `folder`, or undefined when git is missing, the folder is not in a
 * checkout, or git takes over 5 s.
 */
export async function detectGitCommit(folder: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], {
      cwd: folder,
      timeout: 5000,
    });
    const commit = stdout.trim();
    return /^[0-9a-f]{40,64}$/.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

/** Axis paths in spec order, read from the trials' values. */
function axesOf(trials: readonly LeaderboardTrial[]): string[] {
  return Object.keys(trials[0]?.values ?? {});
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.lastIndexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}
