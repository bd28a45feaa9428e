import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  axisSummaries,
  changeLines,
  duration,
  renderReport,
  renderStatus,
  renderSummary,
} from '../../temporal/format.js';
import type { SweepStatusView } from '../../temporal/sweeps.js';
import { countStates } from '../../workflows/status.js';
import type { TrialStatusRow } from '../../workflows/types.js';

function row(index: number, overrides: Partial<TrialStatusRow>): TrialStatusRow {
  return {
    id: `s-t${index}`,
    index,
    name: `t${index}`,
    values: {},
    state: 'queued',
    epoch: 0,
    bestValAccuracy: null,
    testAccuracy: null,
    attempts: 0,
    durationMs: 0,
    error: null,
    ...overrides,
  };
}

function view(trials: TrialStatusRow[], status: SweepStatusView['status']): SweepStatusView {
  return {
    sweepId: 's',
    status,
    taskQueue: 'q',
    startTime: new Date(0),
    closeTime: null,
    memo: {},
    concurrency: 2,
    cancelRequested: false,
    trials,
    counts: countStates(trials),
  };
}

const trials = [
  row(0, {
    name: 'attention=none',
    values: { 'model.attention': 'none' },
    state: 'done',
    epoch: 3,
    bestValAccuracy: 0.5,
    testAccuracy: 0.45,
    attempts: 1,
    durationMs: 12_300,
  }),
  row(1, {
    name: 'attention=all',
    values: { 'model.attention': 'all' },
    state: 'done',
    epoch: 3,
    bestValAccuracy: 0.75,
    testAccuracy: 0.7,
    attempts: 2,
    durationMs: 65_000,
  }),
  row(2, {
    name: 'attention=block1',
    values: { 'model.attention': 'block1' },
    state: 'failed',
    attempts: 3,
    error: 'TRIAL_DIVERGED: trial s-t2 failed: training diverged',
  }),
];

describe('sweep views', () => {
  test('format - durations read as ms, seconds, minutes or hours', () => {
    assert.deepEqual([0, 850, 12_300, 65_000, 7_380_000].map(duration), [
      '-',
      '850ms',
      '12.3s',
      '1m05s',
      '2h03m',
    ]);
  });

  test('format - status shows one row per trial with values and state', () => {
    assert.equal(
      renderStatus(view(trials, 'RUNNING'), 'http://ui/s'),
      [
        'sweep s: running, 2 done, 0 running, 1 failed, 0 cancelled, 0 queued',
        '',
        '#  model.attention  state   epoch  best val acc  attempts  duration  error',
        '-  ---------------  ------  -----  ------------  --------  --------  ' +
          '----------------------------------------------------',
        '0  none             done    3      50.0%         1         12.3s',
        '1  all              done    3      75.0%         2         1m05s',
        '2  block1           failed  -      -             3         -         ' +
          'TRIAL_DIVERGED: trial s-t2 failed: training diverged',
        '',
        'UI: http://ui/s',
      ].join('\n'),
    );
  });

  test('format - the summary names the best trial and the command to re-run failures', () => {
    assert.equal(
      renderSummary(view(trials, 'COMPLETED'), 'http://ui/s'),
      [
        'sweep s ended: 2 done, 0 running, 1 failed, 0 cancelled, 0 queued',
        'best: trial 1 attention=all, 75.0% val acc, 70.0% test acc',
        'report: sweep report s',
        're-run the failed and cancelled trials: sweep resume s',
        'UI: http://ui/s',
      ].join('\n'),
    );
  });

  test('format - plain progress prints a line per trial that changed state', () => {
    const before = new Map([
      [0, 'running' as const],
      [1, 'done' as const],
      [2, 'running' as const],
    ]);
    assert.deepEqual(changeLines(before, view(trials, 'RUNNING')), [
      'trial 0 attention=none done: best val acc 50.0%, 3 epochs, 12.3s',
      'trial 2 attention=block1 failed after 3 attempt(s): TRIAL_DIVERGED: trial s-t2 failed: ' +
        'training diverged',
      'sweep s: 2 done, 0 running, 1 failed, 0 cancelled, 0 queued',
    ]);
  });

  test('format - the report ranks done trials and summarises each axis value', () => {
    const text = renderReport(view(trials, 'COMPLETED'), 'http://ui/s', 10);

    assert.match(text, /^leaderboard \(top 2 of 2 done, by best val acc\)$/m);
    const lines = text.split('\n');
    assert.ok(lines.includes('1     1  all              75.0%         70.0%     3       1m05s'));
    assert.ok(lines.includes('2     0  none             50.0%         45.0%     3       12.3s'));
    assert.match(text, /^best trial: 1 s-t1$/m);
    const axis = 'model.attention';
    assert.deepEqual(axisSummaries(trials), [
      { axis, value: 'none', done: 1, meanValAccuracy: 0.5, bestValAccuracy: 0.5 },
      { axis, value: 'all', done: 1, meanValAccuracy: 0.75, bestValAccuracy: 0.75 },
      { axis, value: 'block1', done: 0, meanValAccuracy: null, bestValAccuracy: null },
    ]);
  });
});
