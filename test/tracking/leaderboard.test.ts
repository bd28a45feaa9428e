import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  formatValue,
  leaderboardCsv,
  leaderboardMarkdown,
  rankTrials,
  type LeaderboardTrial,
} from '../../tracking/leaderboard.js';

function trial(id: string, overrides: Partial<LeaderboardTrial> = {}): LeaderboardTrial {
  return {
    id,
    name: `name-${id}`,
    values: { 'model.attention': 'none', 'model.dropout.dense': 0.3 },
    state: 'done',
    epoch: 5,
    bestValAccuracy: 0.5,
    testAccuracy: 0.5,
    ...overrides,
  };
}

describe('leaderboard', () => {
  test('leaderboard - ranks done trials by val accuracy, test accuracy, then plan order', () => {
    const rows = rankTrials([
      trial('a', { bestValAccuracy: 0.6, testAccuracy: 0.5 }),
      trial('b', { state: 'failed', bestValAccuracy: 0.99 }),
      trial('c', { bestValAccuracy: 0.7, testAccuracy: 0.4 }),
      trial('d', { bestValAccuracy: 0.6, testAccuracy: 0.55 }),
      trial('e', { bestValAccuracy: 0.6, testAccuracy: 0.55 }),
      trial('f', { bestValAccuracy: null }),
      trial('g', { state: 'cancelled', bestValAccuracy: null, testAccuracy: null, epoch: 0 }),
    ]);

    assert.deepEqual(
      rows.map((row) => [row.trialId, row.rank]),
      [
        ['c', 1],
        ['d', 2],
        ['e', 3],
        ['a', 4],
        ['b', undefined],
        ['f', undefined],
        ['g', undefined],
      ],
    );
  });

  test('leaderboard - a NaN accuracy is unknown, not a rank', () => {
    const rows = rankTrials([trial('a', { bestValAccuracy: Number.NaN }), trial('b')]);

    assert.equal(rows[0]?.trialId, 'b');
    assert.equal(rows[1]?.rank, undefined);
    assert.equal(rows[1]?.bestValAccuracy, undefined);
  });

  test('leaderboard - csv has one column per axis, run ids, and quotes what needs quoting', () => {
    const rows = rankTrials(
      [
        trial('s-t1', { values: { 'model.attention': 'none', 'training.schedule': 'a,b' } }),
        trial('s-t2', {
          name: 'say "hi"',
          state: 'failed',
          bestValAccuracy: null,
          testAccuracy: null,
          epoch: 2,
          values: { 'model.attention': 'all', 'training.schedule': { name: 'cosine' } },
        }),
      ],
      new Map([['s-t1', 'run1']]),
    );

    const csv = leaderboardCsv(rows, ['model.attention', 'training.schedule']);

    assert.equal(
      csv,
      'rank,trial_id,trial_name,model.attention,training.schedule,best_val_accuracy,' +
        'test_accuracy,epochs,state,run_id\r\n' +
        '1,s-t1,name-s-t1,none,"a,b",0.5,0.5,5,done,run1\r\n' +
        ',s-t2,"say ""hi""",all,"{""name"":""cosine""}",,,2,failed,\r\n',
    );
  });

  test('leaderboard - markdown shows percentages, dashes for unknowns and escapes pipes', () => {
    const rows = rankTrials([
      trial('s-t1', { bestValAccuracy: 0.83125, testAccuracy: 0.8 }),
      trial('s-t2', { state: 'failed', bestValAccuracy: null, testAccuracy: null, epoch: 1 }),
    ]);
    rows[0]!.values = { 'model.attention': 'a|b', 'model.dropout.dense': 0.3 };

    const markdown = leaderboardMarkdown(
      rows,
      ['model.attention', 'model.dropout.dense'],
      'Leaderboard of sweep s',
    );

    assert.equal(
      markdown,
      [
        '# Leaderboard of sweep s',
        '',
        '| rank | trial id | model.attention | model.dropout.dense | best val accuracy | ' +
          'test accuracy | epochs | state |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        '| 1 | `s-t1` | a\\|b | 0.3 | 83.13% | 80.00% | 5 | done |',
        '| - | `s-t2` | none | 0.3 | - | - | 1 | failed |',
        '',
      ].join('\n'),
    );
  });

  test('leaderboard - values print as written: strings bare, the rest as JSON', () => {
    assert.equal(formatValue('block1'), 'block1');
    assert.equal(formatValue(0.25), '0.25');
    assert.equal(formatValue([64, 64]), '[64,64]');
    assert.equal(formatValue(true), 'true');
  });
});
