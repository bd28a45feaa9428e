/**
 * The names a sweep writes into MLflow: tags, metric keys and artifact paths of the sweep's
 * parent run and of each trial's child run. One place, so that the recorders, `sweep predict`
 * and anything that searches runs agree on them.
 */

/** Tags of the sweep's parent run and of trial runs. Values are strings, as MLflow stores them. */
export const TAGS = {
  /** The sweep id (`<spec name>-<8 hex>`), on the parent run and on every trial run. */
  sweepId: 'sweep.id',
  /** Full SHA-256 of what the trials depend on (see `LoadedSpec.hash`); parent run. */
  specHash: 'sweep.spec_hash',
  /** `parent` on the sweep's run, `trial` on trial runs; finds one without the others. */
  role: 'sweep.role',
  /** The trial id, on trial runs. */
  trialId: 'sweep.trial_id',
  /** 0-based position of the trial in plan order, on trial runs. */
  trialIndex: 'sweep.trial_index',
  /** The latest activity attempt (1-based) that worked on the trial run. */
  attempt: 'sweep.attempt',
  /** Host name of the worker of the latest attempt. */
  workerHost: 'sweep.worker_host',
  /** TensorFlow backend of the latest attempt, e.g. `tensorflow`. */
  backend: 'sweep.backend',
  /** Device of the latest attempt: `cpu` or `gpu:N`. */
  device: 'sweep.device',
  /** First line of the error of the latest failed attempt, secrets removed. */
  failureReason: 'sweep.failure_reason',
  /** The attempt that `failureReason` belongs to. */
  failedAttempt: 'sweep.failed_attempt',
  /** Absolute dataset folder the trial read (a location, so a tag and not a param). */
  datasetRoot: 'sweep.dataset_root',
  /** `git rev-parse HEAD` of the code that started the sweep; absent outside a git checkout. */
  gitCommit: 'git.commit',
  /** Link to the sweep's workflow in the Temporal UI. */
  workflowUrl: 'temporal.workflow_url',
  /** The best trial's id, set when the sweep finishes. */
  bestTrialId: 'best.trial_id',
  /** Prefix of the best trial's grid values: `best.<axis>` (e.g. `best.model.attention`). */
  bestValuePrefix: 'best.',
  /** `<registered model name>/<version>` of the registered best model. */
  bestModelVersion: 'best.model_version',
  /** The trial whose model `best.model_version` is (a changed best registers again). */
  bestModelTrialId: 'best.model_trial_id',
  /** MLflow's own: the parent run of a nested run. */
  parentRunId: 'mlflow.parentRunId',
  /** MLflow's own: the run's description in the UI (markdown). */
  note: 'mlflow.note.content',
  /** MLflow's own: which UI an experiment opens in. */
  experimentKind: 'mlflow.experimentKind',
} as const;

/** Values of {@link TAGS.role}. */
export type RunRole = 'parent' | 'trial';

/** Metric keys logged per epoch of a trial, at step = epoch (1-based). */
export const EPOCH_METRICS = [
  'loss',
  'accuracy',
  'val_loss',
  'val_accuracy',
  'learning_rate',
  'epoch_seconds',
  'images_per_second',
] as const;

/** Metric keys logged once when a trial finishes, at step 0. */
export const TRIAL_SUMMARY_METRICS = [
  'test_loss',
  'test_accuracy',
  'best_val_accuracy',
  'best_epoch',
] as const;

/** Artifact paths in runs of a sweep. */
export const ARTIFACTS = {
  /** Folder of the trained model in tfjs layers format (`model.json` + weight files). */
  model: 'model',
  /** The trial's `metrics.json`, which also holds `classNames` (what `sweep predict` reads). */
  metrics: 'metrics.json',
  /** Folder of the spec file on the parent run: `spec/<file name>`. */
  spec: 'spec',
  leaderboardCsv: 'leaderboard.csv',
  leaderboardMarkdown: 'leaderboard.md',
  /** Best validation accuracy against each grid axis's values. */
  axisPlot: 'val-accuracy-by-axis.png',
} as const;

/** The param holding the pixel multiplier `sweep predict` applies (Keras `rescale`). */
export const RESCALE_PARAM = 'augmentation.rescale';
