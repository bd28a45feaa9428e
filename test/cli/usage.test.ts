/**
 * Flags that cannot be used: yargs' own checks and the commands' `.check()`s end the same
 * way, with the command's help, the reason on the last line and exit code 2 (never a stack).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { runCli } from '../integration/temporal-harness.js';

describe('usage errors', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-usage-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string[], string][] = [
    [['status', 'x-0123abcd', '--watch', '--json'], '--watch and --json cannot be used together'],
    [['list', '--limit', '0'], '--limit must be a whole number of at least 1, got 0'],
    [['report', 'x-0123abcd', '--top', '0'], '--top must be a whole number of at least 1, got 0'],
    [
      ['train', 'spec.yaml', '--epochs', '-1'],
      '--epochs must be a whole number of at least 1, got -1',
    ],
    [['status'], 'Not enough non-option arguments: got 0, need at least 1'],
  ];

  for (const [args, reason] of cases) {
    test(`usage - sweep ${args.join(' ')}: exit 2, the reason under the help`, async () => {
      const run = await runCli(args, { cwd: dir, env: process.env, timeoutMs: 30_000 });

      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stderr.trimEnd().split('\n').at(-1), reason);
      assert.match(run.stderr, /^Options:$/m, 'the command\'s help comes first');
      assert.doesNotMatch(run.stderr, /unexpected error|    at /, 'no stack trace');
    });
  }
});
