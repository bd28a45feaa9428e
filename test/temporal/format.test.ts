import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  axisSummaries,
  changeLines,
  duration,
  renderLive,
  renderReport,
  renderStatus,
  renderSummary,
  seenOf,
  type TrialSeen,
} from '../../temporal/format.js';
import {
  countViewStates,
  type SweepStatusView,
  type TrialViewRow,
} from '../../temporal/sweeps.js';
import { viewRow } from './fixtures.js';

const row = viewRow;

/** What plain progress printed before: `[index, state, epoch (default 0)]` per trial. */
function seen(entries: [number, TrialViewRow['state'], number?][]): Map<number, TrialSeen> {
  return new Map(entries.map(([index, state, epoch]) => [index, { state, epoch: epoch ?? 0 }]));
}

function view(trials: TrialViewRow[], status: SweepStatusView['status']): SweepStatusView {
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
    counts: countViewStates(trials),
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
    const before = seen([
      [0, 'running'],
      [1, 'done', 3],
      [2, 'running'],
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

  describe('a trial no worker has started yet', () => {
    const narrow = [
      row(0, { name: 'a', values: { x: 1 }, state: 'running', epoch: 2, attempts: 1 }),
      row(1, { name: 'b', values: { x: 2 }, state: 'waiting', waitingFor: 'worker' }),
      row(2, { name: 'c', values: { x: 3 }, state: 'waiting', waitingFor: 'retry', attempts: 1 }),
      row(3, { name: 'd', values: { x: 4 } }),
    ];

    test('format - status counts waiting trials apart and says what waiting means', () => {
      const text = renderStatus(view(narrow, 'RUNNING'), 'http://ui/s');
      const lines = text.split('\n');

      assert.equal(
        lines[0],
        'sweep s: running, 0 done, 1 running, 2 waiting, 0 failed, 0 cancelled, 1 queued',
      );
      assert.match(lines[5] ?? '', /^1 {2}2 {2}waiting /);
      assert.match(text, /^waiting: scheduled, but no worker has started it yet/m);
    });

    test('format - the live view lists running trials, then why each waiting one waits', () => {
      const lines = renderLive(view(narrow, 'RUNNING'), 'http://ui/s').split('\n');

      assert.match(lines[0] ?? '', /0\/4 done {2}1 running {2}2 waiting {2}0 failed {2}1 queued/);
      assert.deepEqual(lines.slice(2, 5), [
        '  running 0 a: epoch 2, best -',
        '  waiting 1 b: for a worker, best -',
        '  waiting 2 c: to retry (attempt 2), best -',
      ]);
    });

    test('format - plain progress prints the move to waiting with its reason', () => {
      const before = seen([
        [0, 'running', 2],
        [1, 'queued'],
        [2, 'running'],
        [3, 'queued'],
      ]);
      assert.deepEqual(changeLines(before, view(narrow, 'RUNNING')), [
        'trial 1 b waiting for a worker',
        'trial 2 c waiting to retry (attempt 2)',
        'sweep s: 0 done, 1 running, 2 waiting, 0 failed, 0 cancelled, 1 queued',
      ]);
    });

    test('format - plain progress logs each epoch a running trial finishes', () => {
      const before = seenOf(view(narrow, 'RUNNING'));
      const later = narrow.map((one) =>
        one.index === 0 ? { ...one, epoch: 3, bestValAccuracy: 0.625 } : one,
      );

      assert.deepEqual(changeLines(before, view(later, 'RUNNING')), [
        'trial 0 a epoch 3: best val acc 62.5%',
      ]);
      assert.deepEqual(changeLines(seenOf(view(later, 'RUNNING')), view(later, 'RUNNING')), []);
    });

    test('format - without waiting trials the counts line keeps its shape', () => {
      const text = renderStatus(view(trials, 'RUNNING'), 'http://ui/s');
      assert.doesNotMatch(text, /waiting/);
    });
  });
});
