/**
 * Bad sweep specs through the CLI, as a user meets them: `sweep start` and `sweep plan` on
 * temp files exit with code 3 and list every problem at its line, and `sweep start` starts
 * nothing (no state folder, no embedded server, so no workflow). The loader's own cases are
 * in test/spec/load.test.ts; these check the whole path from the command line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { cliPlace, type CliPlace } from './bad-input-harness.js';

const MANY_PROBLEMS = `name: bad-input
dataset:
  root: /nonexistent/flowers
  imagesize: 64
model:
  dropout:
    dense: 1.0
  attention: everywhere
training:
  epochs: 0
  learningRate: 0
  batchSize: "32"
  schedule: linear
callbacks:
  earlyStopping:
    enabled: yes
    patience: 010
augmentation:
  horizontalFlip: off
grid:
  model.dropout.block1: []
  model.attention: [none, ../../etc/passwd]
`;

const MANY_MESSAGE = `error: 12 problems in sweep spec many.yaml:
  many.yaml:4:3 dataset.imagesize: unknown key; did you mean \`imageSize\`?
  many.yaml:7:12 model.dropout.dense: must be in [0, 1), got 1
  many.yaml:8:14 model.attention: must be one of none, block1, block2, block3, all; got "everywhere"
  many.yaml:10:11 training.epochs: must be at least 1, got 0
  many.yaml:11:17 training.learningRate: must be greater than 0, got 0
  many.yaml:12:14 training.batchSize: expected a number, got string "32"
  many.yaml:13:13 training.schedule: must be one of constant, plateau, step, exponential, \
cosine; got "linear"
  many.yaml:16:14 callbacks.earlyStopping.enabled: \`yes\` is a string in YAML 1.2; write true \
or false
  many.yaml:17:15 callbacks.earlyStopping.patience: \`010\` is 10 in YAML 1.2 but octal 8 in \
YAML 1.1; write it without the leading zero (or quote it for text)
  many.yaml:19:19 augmentation.horizontalFlip: \`off\` is a string in YAML 1.2; write true or \
false
  many.yaml:21:25 grid.model.dropout.block1: must list at least one value
  many.yaml:22:27 grid.model.attention[1]: must be one of none, block1, block2, block3, all; \
got "../../etc/passwd"
hint: Fix the spec, then check it with: sweep plan many.yaml
`;

const CASES: { file: string; text: string; message: string }[] = [
  {
    file: 'syntax.yaml',
    text: 'name: syntax\ndataset:\n  root: /x\ntraining:\n  epochs: [1, 2\n',
    message:
      'error: 1 problem in sweep spec syntax.yaml:\n' +
      '  syntax.yaml:6:1 YAML syntax: flow sequence in block collection must be sufficiently ' +
      'indented and end with a ]\n',
  },
  {
    file: 'duplicate.yaml',
    text: 'name: dup\ndataset:\n  root: /x\ntraining:\n  epochs: 2\n  epochs: 3\n',
    message:
      'error: 1 problem in sweep spec duplicate.yaml:\n' +
      '  duplicate.yaml:6:3 training.epochs: duplicate key (first set at line 5); keep one of ' +
      'them\n',
  },
  {
    file: 'too-big.yaml',
    text:
      'name: big\ndataset:\n  root: /x\nsearch:\n  maxTrials: 10\ngrid:\n' +
      '  training.learningRate: [0.1, 0.01, 0.001, 0.0001]\n' +
      '  model.dropout.dense: [0.1, 0.2, 0.3]\n',
    message:
      'error: 1 problem in sweep spec too-big.yaml:\n' +
      '  too-big.yaml:6:1 grid: 12 trials (4 x 3) is more than search.maxTrials (10); trim an ' +
      'axis or raise search.maxTrials\n',
  },
];

describe('bad specs through the CLI', { timeout: 60_000, concurrency: true }, () => {
  let place: CliPlace;

  before(async () => {
    place = await cliPlace('sweep-bad-spec-');
    await writeFile(join(place.dir, 'many.yaml'), MANY_PROBLEMS);
    for (const { file, text } of CASES) await writeFile(join(place.dir, file), text);
  });

  after(async () => {
    await place.dispose();
  });

  test('bad spec - start lists every problem at its line, exits 3 and starts nothing',
    async () => {
      const run = await place.sweep(['start', 'many.yaml']);

      assert.equal(run.stderr, MANY_MESSAGE);
      assert.equal(run.stdout, '');
      assert.equal(run.code, 3);
      await place.assertNothingStarted();
    });

  test('bad spec - plan reports the same problems with exit code 3', async () => {
    const run = await place.sweep(['plan', 'many.yaml']);

    assert.equal(run.stderr, MANY_MESSAGE);
    assert.equal(run.code, 3);
  });

  test('bad spec - syntax errors, duplicate keys and oversized grids stop start with code 3',
    async () => {
      const runs = await Promise.all(CASES.map(({ file }) => place.sweep(['start', file])));

      CASES.forEach(({ file, message }, index) => {
        const hint = `hint: Fix the spec, then check it with: sweep plan ${file}\n`;
        assert.equal(runs[index]?.stderr, message + hint);
        assert.equal(runs[index]?.code, 3, file);
      });
      await place.assertNothingStarted();
    });
});
