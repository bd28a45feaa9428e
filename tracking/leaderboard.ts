/**
 * The sweep's leaderboard: trials ranked by best validation accuracy, written as CSV (for
 * tools) and as a Markdown table (for people, shown by the MLflow UI's artifact viewer).
 */

/**
 * One trial as the sweep reports it. The workflow's status rows (`TrialStatusRow`) fit as
 * they are.
 */
export interface LeaderboardTrial {
  id: string;
  name: string;
  /** Grid value of each axis, keyed by axis path, in axis order. */
  values: Record<string, unknown>;
  /** `done` trials are ranked; any other state (`failed`, `cancelled`...) is listed unranked. */
  state: string;
  /** Last finished epoch (1-based), 0 before the first. */
  epoch: number;
  /** In [0, 1]; null (or NaN) when unknown. */
  bestValAccuracy: number | null;
  /** In [0, 1]; null (or NaN) when unknown. */
  testAccuracy: number | null;
}

/** A leaderboard line. */
export interface LeaderboardRow {
  /** 1 for the best; undefined for trials that are not ranked (not done, or no accuracy). */
  rank: number | undefined;
  trialId: string;
  name: string;
  values: Record<string, unknown>;
  bestValAccuracy: number | undefined;
  testAccuracy: number | undefined;
  epochs: number;
  state: string;
  /** The trial's MLflow run, when known. */
  runId: string | undefined;
}

/**
 * Ranks trials: `done` trials with a finite best validation accuracy first, by that accuracy
 * (highest first), then by test accuracy (highest first, unknown last), then in the order
 * given (plan order). Every other trial follows, unranked, in the order given.
 *
 * @param runIds the MLflow run of each trial id, when known.
 */
export function rankTrials(
  trials: readonly LeaderboardTrial[],
  runIds: ReadonlyMap<string, string> = new Map(),
): LeaderboardRow[] {
  const rows = trials.map((trial, order) => ({ order, row: toRow(trial, runIds) }));
  const candidates = rows.filter(({ order }) => rankable(trials[order]!));
  const others = rows.filter(({ order }) => !rankable(trials[order]!));

  candidates.sort(
    (a, b) =>
      (b.row.bestValAccuracy ?? 0) - (a.row.bestValAccuracy ?? 0) ||
      (b.row.testAccuracy ?? -1) - (a.row.testAccuracy ?? -1) ||
      a.order - b.order,
  );
  candidates.forEach(({ row }, index) => {
    row.rank = index + 1;
  });

  return [...candidates, ...others].map(({ row }) => row);
}

function rankable(trial: LeaderboardTrial): boolean {
  return trial.state === 'done' && finite(trial.bestValAccuracy) !== undefined;
}

function toRow(trial: LeaderboardTrial, runIds: ReadonlyMap<string, string>): LeaderboardRow {
  return {
    rank: undefined,
    trialId: trial.id,
    name: trial.name,
    values: trial.values,
    bestValAccuracy: finite(trial.bestValAccuracy),
    testAccuracy: finite(trial.testAccuracy),
    epochs: trial.epoch,
    state: trial.state,
    runId: runIds.get(trial.id),
  };
}

function finite(value: number | null | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * A grid value as text: strings as they are, anything else as JSON (`0.3`, `[64,64]`,
 * `{"name":"cosine"}`).
 */
export function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

const COLUMNS = ['rank', 'trial_id', 'trial_name'] as const;
const METRIC_COLUMNS = ['best_val_accuracy', 'test_accuracy', 'epochs', 'state', 'run_id'];

/**
 * The leaderboard as RFC 4180 CSV with a header line: rank, trial_id, trial_name, one column
 * per axis (named by its path), best_val_accuracy, test_accuracy, epochs, state, run_id.
 * Accuracies are written in full precision; unknown values and unranked ranks are empty.
 */
export function leaderboardCsv(rows: readonly LeaderboardRow[], axes: readonly string[]): string {
  const header = [...COLUMNS, ...axes, ...METRIC_COLUMNS];
  const lines = rows.map((row) => [
    row.rank === undefined ? '' : String(row.rank),
    row.trialId,
    row.name,
    ...axes.map((axis) => (axis in row.values ? formatValue(row.values[axis]) : '')),
    row.bestValAccuracy === undefined ? '' : String(row.bestValAccuracy),
    row.testAccuracy === undefined ? '' : String(row.testAccuracy),
    String(row.epochs),
    row.state,
    row.runId ?? '',
  ]);
  return [header, ...lines].map((cells) => cells.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function csvCell(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/**
 * The leaderboard as a Markdown document: a title line, then a table with the columns of
 * {@link leaderboardCsv} except the trial name and run id, accuracies as percentages with two
 * decimals, `-` for unknown values.
 */
export function leaderboardMarkdown(
  rows: readonly LeaderboardRow[],
  axes: readonly string[],
  title: string,
): string {
  const header = [
    'rank',
    'trial id',
    ...axes,
    'best val accuracy',
    'test accuracy',
    'epochs',
    'state',
  ];
  const lines = rows.map((row) => [
    row.rank === undefined ? '-' : String(row.rank),
    `\`${row.trialId}\``,
    ...axes.map((axis) => (axis in row.values ? formatValue(row.values[axis]) : '-')),
    percent(row.bestValAccuracy),
    percent(row.testAccuracy),
    String(row.epochs),
    row.state,
  ]);

  const table = [
    markdownRow(header),
    markdownRow(header.map(() => '---')),
    ...lines.map(markdownRow),
  ];
  return [`# ${title}`, '', ...table, ''].join('\n');
}

function percent(value: number | undefined): string {
  return value === undefined ? '-' : `${(value * 100).toFixed(2)}%`;
}

function markdownRow(cells: readonly string[]): string {
  return `| ${cells.map((cell) => cell.replaceAll('|', '\\|').replace(/\s+/g, ' ')).join(' | ')} |`;
}
