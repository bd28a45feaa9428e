/**
 * The human views of sweeps: status table, live summary, plain progress lines, list and
 * report. Pure functions from data to text, so tests check the exact output.
 */
import type {
  SweepListEntry,
  SweepStatusView,
  TrialViewRow,
  TrialViewState,
  WaitingFor,
} from './sweeps.js';

/** Renders rows as an aligned text table (two spaces between columns, header underlined). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();

  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `0.8123` as `81.2%`; null as `-`. */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${(value * 100).toFixed(1)}%`;
}

/** Milliseconds as `850ms`, `12.3s`, `4m05s` or `2h03m`; 0 as `-`. */
export function duration(ms: number): string {
  if (ms <= 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;

  const minutes = Math.floor(ms / 60_000);
  const seconds = String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0');
  if (minutes < 60) return `${minutes}m${seconds}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** A grid value as written in a table cell. */
export function cell(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'name' in value) {
    return String((value as { name: unknown }).name);
  }
  return JSON.stringify(value) ?? '-';
}

/** Grid axes in first-seen order over the rows' values. */
export function axesOf(rows: readonly TrialViewRow[]): string[] {
  const axes: string[] = [];
  for (const row of rows) {
    for (const key of Object.keys(row.values)) {
      if (!axes.includes(key)) axes.push(key);
    }
  }
  return axes;
}

/**
 * `3 done, 1 running, 0 failed, 0 cancelled, 2 queued` (always in that order). While trials
 * wait for a worker, `N waiting` follows the running count; it is left out at 0, so the line
 * of a sweep with no waiting trial (every finished sweep) keeps its shape.
 */
export function countsLine(view: Pick<SweepStatusView, 'counts'>): string {
  const { counts } = view;
  const waiting = counts.waiting > 0 ? `${counts.waiting} waiting, ` : '';
  return (
    `${counts.done} done, ${counts.running} running, ${waiting}${counts.failed} failed, ` +
    `${counts.cancelled} cancelled, ${counts.queued} queued`
  );
}

/**
 * The word for where a sweep stands: its Temporal status in lower case, except that a
 * completed sweep with failed or cancelled trials `ended` (the workflow completes either way).
 */
export function sweepStateWord(view: Pick<SweepStatusView, 'status' | 'trials'>): string {
  const unfinished = view.trials.some((row) => row.state === 'cancelled' || row.state === 'failed');
  return view.status === 'COMPLETED' && unfinished ? 'ended' : view.status.toLowerCase();
}

/**
 * What a waiting trial waits for, to follow the word `waiting`: `for a worker`, `to retry
 * (attempt 3)` (counted over every run of the trial) or `until unpaused in Temporal`.
 */
export function waitingReason(row: Pick<TrialViewRow, 'attempts' | 'waitingFor'>): string {
  const reasons: Record<WaitingFor, string> = {
    worker: 'for a worker',
    retry: `to retry (attempt ${row.attempts + 1})`,
    paused: 'until unpaused in Temporal',
  };
  return reasons[row.waitingFor ?? 'worker'];
}

/** The best done trial by best validation accuracy, or undefined. */
export function bestTrial<Row extends TrialViewRow>(rows: readonly Row[]): Row | undefined {
  let best: Row | undefined;
  for (const row of rows) {
    if (row.bestValAccuracy === null) continue;
    if (best === undefined || row.bestValAccuracy > (best.bestValAccuracy ?? -1)) best = row;
  }
  return best;
}

/**
 * Estimated time left: mean duration of done trials times the trials left (running ones count
 * half, waiting ones whole), spread over the concurrency. Undefined until a trial is done.
 */
export function etaMs(view: SweepStatusView): number | undefined {
  const done = view.trials.filter((row) => row.state === 'done' && row.durationMs > 0);
  if (done.length === 0) return undefined;

  const meanMs = done.reduce((sum, row) => sum + row.durationMs, 0) / done.length;
  const left = view.counts.queued + view.counts.waiting + view.counts.running / 2;
  const lanes = Math.max(1, Math.min(view.concurrency ?? 1, left));
  return (meanMs * left) / lanes;
}

/**
 * The status table: one row per trial with its values, state, epoch, accuracy, attempts.
 * When trials wait for a worker, a line under the table says what that means.
 */
export function renderStatus(view: SweepStatusView, uiLink: string): string {
  const axes = axesOf(view.trials);
  const header = ['#', ...axes, 'state', 'epoch', 'best val acc', 'attempts', 'duration', 'error'];
  const rows = view.trials.map((row) => [
    String(row.index),
    ...axes.map((axis) => (axis in row.values ? cell(row.values[axis]) : '')),
    row.state,
    row.epoch === 0 ? '-' : String(row.epoch),
    percent(row.bestValAccuracy),
    String(row.attempts),
    duration(row.durationMs),
    row.error ?? '',
  ]);

  const lines = [
    `sweep ${view.sweepId}: ${sweepStateWord(view)}, ${countsLine(view)}`,
    '',
    table(header, rows),
  ];
  if (view.counts.waiting > 0) {
    lines.push(
      '',
      'waiting: scheduled, but no worker has started it yet (every worker slot is busy, or a ' +
        'retry waits out its backoff)',
    );
  }

  lines.push('', `UI: ${uiLink}`);
  return lines.join('\n');
}

/**
 * The live summary a TTY shows while a sweep runs (redrawn in place): counts, ETA, best trial
 * so far, then up to 8 running trials and, after them, the trials waiting for a worker.
 */
export function renderLive(view: SweepStatusView, uiLink: string): string {
  const { counts } = view;
  const total = view.trials.length;
  const eta = etaMs(view);
  const best = bestTrial(view.trials);
  const waiting = counts.waiting > 0 ? `${counts.waiting} waiting  ` : '';
  const lines = [
    `sweep ${view.sweepId}  ${counts.done}/${total} done  ${counts.running} running  ` +
      `${waiting}${counts.failed} failed  ${counts.queued} queued  ` +
      `ETA ${eta === undefined ? '?' : duration(eta)}`,
    best === undefined
      ? 'best so far: -'
      : `best so far: ${percent(best.bestValAccuracy)} val acc, trial ${best.index} ${best.name}`,
  ];

  const running = view.trials.filter((r) => r.state === 'running');
  const waitingRows = view.trials.filter((r) => r.state === 'waiting');
  for (const row of [...running, ...waitingRows].slice(0, 8)) {
    const best = percent(row.bestValAccuracy);
    if (row.state === 'waiting') {
      lines.push(`  waiting ${row.index} ${row.name}: ${waitingReason(row)}, best ${best}`);
      continue;
    }

    const epoch = row.epoch === 0 ? 'starting' : `epoch ${row.epoch}`;
    const attempt = row.attempts > 1 ? `, attempt ${row.attempts}` : '';
    lines.push(`  running ${row.index} ${row.name}: ${epoch}, best ${best}${attempt}`);
  }

  lines.push(`UI: ${uiLink}`);
  return lines.join('\n');
}

/** What plain progress last printed of a trial. */
export interface TrialSeen {
  state: TrialViewState;
  epoch: number;
}

/** What plain progress has now printed of each trial, for the next {@link changeLines}. */
export function seenOf(view: SweepStatusView): Map<number, TrialSeen> {
  return new Map(view.trials.map((row) => [row.index, { state: row.state, epoch: row.epoch }]));
}

/**
 * Plain lines (non-TTY output) for trials whose state changed since `before`, each followed
 * by the counts, and for running trials that finished an epoch since: a sweep of long trials
 * still logs its progress.
 */
export function changeLines(
  before: ReadonlyMap<number, TrialSeen>,
  view: SweepStatusView,
): string[] {
  const lines: string[] = [];
  let changed = false;

  for (const row of view.trials) {
    const seen = before.get(row.index);
    if (seen?.state === row.state) {
      if (row.state === 'running' && row.epoch > seen.epoch) {
        const best = percent(row.bestValAccuracy);
        lines.push(`trial ${row.index} ${row.name} epoch ${row.epoch}: best val acc ${best}`);
      }
      continue;
    }
    if (seen === undefined && row.state === 'queued') continue;

    const what =
      row.state === 'done'
        ? `done: best val acc ${percent(row.bestValAccuracy)}, ${row.epoch} epochs, ` +
          duration(row.durationMs)
        : row.state === 'failed'
          ? `failed after ${row.attempts} attempt(s): ${row.error ?? 'unknown error'}`
          : row.state === 'cancelled'
            ? `cancelled (${row.error ?? 'by request'})`
            : row.state === 'waiting'
              ? `waiting ${waitingReason(row)}`
              : row.state;
    lines.push(`trial ${row.index} ${row.name} ${what}`);
    changed = true;
  }

  if (changed) lines.push(`sweep ${view.sweepId}: ${countsLine(view)}`);
  return lines;
}

/** How a failed or cancelled trial ended, on one line (a crash's log tail left out). */
function endedHow(row: TrialViewRow): string {
  const reason = (row.error ?? 'unknown error').split('\n')[0];
  return row.state === 'failed'
    ? `failed after ${row.attempts} attempt(s): ${reason}`
    : `cancelled (${reason})`;
}

/** The end-of-sweep summary with the next command to run. */
export function renderSummary(view: SweepStatusView, uiLink: string): string {
  const best = bestTrial(view.trials);
  const lines = [`sweep ${view.sweepId} ${sweepStateWord(view)}: ${countsLine(view)}`];

  if (best !== undefined) {
    lines.push(
      `best: trial ${best.index} ${best.name}, ${percent(best.bestValAccuracy)} val acc, ` +
        `${percent(best.testAccuracy)} test acc`,
    );
  }
  lines.push(`report: sweep report ${view.sweepId}`);
  if (view.counts.failed + view.counts.cancelled > 0) {
    lines.push(`re-run the failed and cancelled trials: sweep resume ${view.sweepId}`);
  }
  lines.push(`UI: ${uiLink}`);
  return lines.join('\n');
}

/** `sweep list`: one line per sweep, newest first. */
export function renderList(entries: SweepListEntry[], uiLink: string): string {
  if (entries.length === 0) {
    return `no sweeps yet; start one with: sweep start sweeps/quick.yaml\nUI: ${uiLink}`;
  }

  const rows = entries.map((entry) => [
    entry.sweepId,
    entry.status.toLowerCase(),
    entry.memo.total === undefined ? '-' : String(entry.memo.total),
    entry.startTime.toISOString().replace('T', ' ').slice(0, 19),
    entry.closeTime === null ? '-' : entry.closeTime.toISOString().replace('T', ' ').slice(0, 19),
    entry.memo.specFile ?? '-',
  ]);
  const header = ['sweep', 'status', 'trials', 'started (UTC)', 'closed (UTC)', 'spec'];
  return `${table(header, rows)}\n\nUI: ${uiLink}`;
}

/** Per axis value: how many trials are done, their mean and best validation accuracy. */
export interface AxisSummary {
  axis: string;
  value: string;
  done: number;
  meanValAccuracy: number | null;
  bestValAccuracy: number | null;
}

/** Mean and best validation accuracy of done trials, for each value of each axis. */
export function axisSummaries(rows: readonly TrialViewRow[]): AxisSummary[] {
  const summaries: AxisSummary[] = [];

  for (const axis of axesOf(rows)) {
    const values = [...new Set(rows.map((row) => cell(row.values[axis])))];

    for (const value of values) {
      const scores = rows
        .filter((row) => row.state === 'done' && cell(row.values[axis]) === value)
        .map((row) => row.bestValAccuracy)
        .filter((score): score is number => score !== null);

      summaries.push({
        axis,
        value,
        done: scores.length,
        meanValAccuracy:
          scores.length === 0 ? null : scores.reduce((a, b) => a + b, 0) / scores.length,
        bestValAccuracy: scores.length === 0 ? null : Math.max(...scores),
      });
    }
  }
  return summaries;
}

/** `sweep report`: leaderboard, best trial, and accuracy by each axis value. */
export function renderReport(view: SweepStatusView, uiLink: string, top: number): string {
  const ranked = view.trials
    .filter((row) => row.state === 'done' && row.bestValAccuracy !== null)
    .sort((a, b) => (b.bestValAccuracy ?? 0) - (a.bestValAccuracy ?? 0));
  const axes = axesOf(view.trials);

  const leaderboard = table(
    ['rank', '#', ...axes, 'best val acc', 'test acc', 'epochs', 'duration'],
    ranked.slice(0, top).map((row, rank) => [
      String(rank + 1),
      String(row.index),
      ...axes.map((axis) => (axis in row.values ? cell(row.values[axis]) : '')),
      percent(row.bestValAccuracy),
      percent(row.testAccuracy),
      String(row.epoch),
      duration(row.durationMs),
    ]),
  );

  const lines = [
    `sweep ${view.sweepId}: ${sweepStateWord(view)}, ${countsLine(view)}`,
    '',
    `leaderboard (top ${Math.min(top, ranked.length)} of ${ranked.length} done, by best val acc)`,
    leaderboard,
  ];

  // Trials without a result rank below every done one; say why each has none.
  const unranked = view.trials.filter(
    (row) => row.state === 'failed' || row.state === 'cancelled',
  );
  if (unranked.length > 0) {
    lines.push('', `not ranked (${unranked.length} did not finish)`);
    for (const row of unranked) lines.push(`  ${row.index} ${row.name}: ${endedHow(row)}`);
  }

  const best = ranked[0];
  if (best !== undefined) {
    lines.push('', `best trial: ${best.index} ${best.id}`);
    for (const axis of axes) lines.push(`  ${axis} = ${cell(best.values[axis])}`);
    lines.push(
      `  best val acc ${percent(best.bestValAccuracy)}, test acc ${percent(best.testAccuracy)}`,
    );
  }

  if (axes.length > 0) {
    const rows = axisSummaries(view.trials).map((s) => [
      s.axis,
      s.value,
      String(s.done),
      percent(s.meanValAccuracy),
      percent(s.bestValAccuracy),
    ]);
    lines.push('', 'by axis value', table(['axis', 'value', 'done', 'mean', 'best'], rows));
  }

  lines.push('', `UI: ${uiLink}`);
  return lines.join('\n');
}
