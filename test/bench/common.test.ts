import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { median, resultSection, round, table, wholeNumber } from '../../bench/common.js';
import { ConfigError } from '../../lib/errors.js';

describe('bench common', () => {
  test('table - aligns text left and numbers right under a rule', () => {
    const text = table(
      ['side', 's/epoch'],
      [
        ['ours', 12.5],
        ['keras', 9],
      ],
    );

    const lines = ['side   s/epoch', '-----  -------', 'ours      12.5', 'keras        9'];
    assert.equal(text, lines.join('\n'));
  });

  test('median - takes the middle value, or the mean of the two middle ones', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  test('round - keeps the given number of decimals', () => {
    assert.equal(round(1.23456, 2), 1.23);
    assert.equal(round(2.25), 2.3);
  });

  test('wholeNumber - names the option, the bounds and the value received', () => {
    assert.equal(wholeNumber('epochs', 3, 1, 10), 3);
    assert.throws(
      () => wholeNumber('epochs', 0.5, 1, 10),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message === '--epochs must be a whole number from 1 to 10, got 0.5',
    );
  });

  test('resultSection - a dated section with the command, the machine and the figures', () => {
    const section = resultSection(
      { name: 'step', text: 'ratio 1.1', figures: { ratio: 1.1 } },
      'npm run bench -- step --record',
      { cpuModel: 'Test CPU', cores: 2, memoryGiB: 8, node: 'v20.0.0', platform: 'linux x64' },
    );

    assert.match(section, /^## step - \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\n/);
    assert.match(section, /Command: `npm run bench -- step --record`/);
    assert.match(section, /Machine: 2 cores \(Test CPU\), 8 GiB RAM/);
    assert.match(section, /```text\nratio 1.1\n```/);
    assert.match(section, /"ratio": 1.1/);
  });
});
