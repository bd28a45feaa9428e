import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import { SpecError } from '../../lib/errors.js';
import { loadSpec, parseSpec } from '../../spec/load.js';

const FILE = 'sweeps/bad.yaml';

/** The smallest valid spec, as lines, so tests add only what they check. */
const BASE = ['name: test', 'dataset:', '  root: data'];

/** The problem lines (`file:line:col path: message`) of the SpecError `text` raises. */
function problems(lines: string[]): string[] {
  try {
    parseSpec(lines.join('\n'), FILE);
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    const [header, ...rest] = error.message.split('\n');
    const count = rest.length === 1 ? '1 problem' : `${rest.length} problems`;
    assert.equal(header, `${count} in sweep spec ${FILE}:`);
    assert.equal(error.issues.length, rest.length);
    return rest.map((line) => line.trim());
  }
  assert.fail('expected the spec to be refused');
}

describe('loadSpec', () => {
  test('loadSpec - fills defaults and resolves the dataset root from the spec folder', () => {
    const loaded = parseSpec(BASE.join('\n'), '/specs/sweeps/a.yaml');

    assert.equal(loaded.file, '/specs/sweeps/a.yaml');
    assert.equal(loaded.datasetRoot, '/specs/sweeps/data');
    assert.equal(loaded.spec.model.attention, 'block1');
    assert.deepEqual(loaded.spec.training.schedule, { name: 'plateau' });
    assert.deepEqual(loaded.spec.grid, {});
    assert.match(loaded.hash, /^[0-9a-f]{64}$/);
  });

  test('loadSpec - hashes the parsed spec, so key order and comments do not matter', () => {
    const a = parseSpec(['name: test', 'dataset: {root: data, imageSize: 64}'].join('\n'), FILE);
    const reordered = ['# same', 'dataset:', '  imageSize: 64', '  root: data', 'name: test'];
    const b = parseSpec(reordered.join('\n'), FILE);
    const c = parseSpec(['name: test', 'dataset: {root: data, imageSize: 96}'].join('\n'), FILE);

    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
  });

  test('loadSpec - the hash ignores description and execution, so a sweep can be re-scaled', () => {
    const base = ['name: test', 'dataset: {root: data}'];
    const a = parseSpec(base.join('\n'), FILE);
    const b = parseSpec(
      [...base, 'description: more', 'execution: {concurrency: 8}'].join('\n'),
      FILE,
    );

    assert.equal(a.hash, b.hash);
  });

  test('loadSpec - reads a file and keeps an absolute dataset root as written', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'spec-load-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, ['name: test', 'dataset:', '  root: /data/flowers'].join('\n'));

    const loaded = await loadSpec(file);

    assert.equal(loaded.file, file);
    assert.equal(loaded.datasetRoot, '/data/flowers');
    assert.match(loaded.text, /^name: test/);
  });

  test('loadSpec - says when the file does not exist', async () => {
    await assert.rejects(loadSpec('sweeps/nope.yaml'), {
      name: 'SpecError',
      message:
        '1 problem in sweep spec sweeps/nope.yaml:\n' +
        '  sweeps/nope.yaml no such file; check the path',
    });
  });

  test('loadSpec - hints at the command that checks the spec again', () => {
    try {
      parseSpec('name: test', FILE);
      assert.fail('expected a SpecError');
    } catch (error) {
      assert.ok(error instanceof SpecError);
      assert.equal(error.hint, `Fix the spec, then check it with: sweep plan ${FILE}`);
      assert.equal(error.retryable, false);
      assert.deepEqual(error.issues, [
        { path: 'dataset', message: 'required, but missing', line: 1, column: 1 },
      ]);
    }
  });
});

describe('loadSpec YAML reading', () => {
  test('loadSpec YAML - reports a syntax error at its line', () => {
    assert.deepEqual(problems(['name: test', 'dataset: {root: data', 'grid: {}']), [
      `${FILE}:3:1 YAML syntax: flow map in block collection must be sufficiently indented and ` +
        `end with a }`,
    ]);
  });

  test('loadSpec YAML - reports every duplicate key with the line of the first', () => {
    const lines = [...BASE, 'name: other', 'model:', '  attention: none', '  attention: all'];
    assert.deepEqual(problems(lines), [
      `${FILE}:4:1 name: duplicate key (first set at line 1); keep one of them`,
      `${FILE}:7:3 model.attention: duplicate key (first set at line 6); keep one of them`,
    ]);
  });

  test('loadSpec YAML - refuses custom and language tags', () => {
    assert.deepEqual(problems([...BASE, 'description: !!js/function "x"', 'model: !foo {}']), [
      `${FILE}:4:14 description: tag \`!!js/function\` is not allowed; a spec holds plain YAML ` +
        `1.2 values, so remove the tag`,
      `${FILE}:5:8 model: tag \`!foo\` is not allowed; a spec holds plain YAML 1.2 values, so ` +
        `remove the tag`,
    ]);
  });

  test('loadSpec YAML - accepts core tags such as !!str', () => {
    const loaded = parseSpec([...BASE, 'description: !!str 010'].join('\n'), FILE);
    assert.equal(loaded.spec.description, '010');
  });

  test('loadSpec YAML - refuses a %YAML 1.1 directive and a second document', () => {
    assert.deepEqual(problems(['%YAML 1.1', '---', ...BASE, '---', 'name: two']), [
      `${FILE}:1:1 the %YAML 1.1 directive is not supported; specs are read as YAML 1.2, so ` +
        `remove the directive`,
      `${FILE}:6:1 a second YAML document starts here (\`---\`); a spec file holds one document`,
    ]);
  });

  test('loadSpec YAML - says an empty file or a list is not a spec', () => {
    assert.deepEqual(problems(['# nothing yet']), [
      `${FILE} the spec is empty; it needs at least name and dataset.root`,
    ]);
    assert.deepEqual(problems(['- name: test']), [
      `${FILE}:1:1 a spec is a mapping of keys (name, dataset, grid, ...), got a list`,
    ]);
  });

  test('loadSpec YAML - explains YAML 1.1 booleans where true or false was expected', () => {
    const lines = [
      ...BASE,
      'augmentation:',
      '  horizontalFlip: yes',
      'callbacks:',
      '  earlyStopping: {enabled: Off}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:19 augmentation.horizontalFlip: \`yes\` is a string in YAML 1.2; write true or ` +
        `false`,
      `${FILE}:7:28 callbacks.earlyStopping.enabled: \`Off\` is a string in YAML 1.2; write true ` +
        `or false`,
    ]);
  });

  test('loadSpec YAML - explains YAML 1.1 numbers: octal, base 60, separators', () => {
    const lines = [
      ...BASE,
      'training:',
      '  epochs: 010',
      '  batchSize: 1:30',
      '  seed: 1_000',
      '  threads: 07',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:11 training.epochs: \`010\` is 10 in YAML 1.2 but octal 8 in YAML 1.1; write it ` +
        `without the leading zero (or quote it for text)`,
      `${FILE}:6:14 training.batchSize: \`1:30\` is a string in YAML 1.2 (YAML 1.1 read it as 90 ` +
        `in base 60); write 90`,
      `${FILE}:7:9 training.seed: \`1_000\` is a string in YAML 1.2 (digit separators are YAML ` +
        `1.1); write 1000`,
    ]);
  });

  test('loadSpec YAML - points at an alias whose anchor is missing', () => {
    assert.deepEqual(problems([...BASE, 'model: {attention: *placement}']), [
      `${FILE}:4:20 model.attention: alias \`*placement\` has no anchor \`&placement\` before ` +
        `it; define the anchor first`,
    ]);
  });

  test('loadSpec YAML - follows anchors and aliases, but has no merge keys', () => {
    const loaded = parseSpec(
      [...BASE, 'model: {attention: &where none}', 'grid: {model.attention: [*where, all]}'].join(
        '\n',
      ),
      FILE,
    );
    assert.deepEqual(loaded.spec.grid, { 'model.attention': ['none', 'all'] });

    assert.deepEqual(problems([...BASE, 'model:', '  <<: {attention: none}']), [
      `${FILE}:5:3 model.<<: unknown key; expected one of dropout, attention, denseUnits`,
    ]);
  });

  test('loadSpec YAML - keeps yes as text where text is expected', () => {
    const loaded = parseSpec([...BASE, 'description: yes'].join('\n'), FILE);
    assert.equal(loaded.spec.description, 'yes');
  });
});

describe('loadSpec schema checks', () => {
  test('loadSpec schema - suggests the key an unknown key most likely meant', () => {
    const lines = [
      ...BASE,
      'training:',
      '  batch_size: 16',
      '  lr: 0.1',
      'model:',
      '  dropout: {blok1: 0.2}',
      'grids: {}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:3 training.batch_size: unknown key; did you mean \`batchSize\`?`,
      `${FILE}:6:3 training.lr: unknown key; expected one of epochs, batchSize, learningRate, ` +
        `schedule, seed, threads`,
      `${FILE}:8:13 model.dropout.blok1: unknown key; did you mean \`block1\`?`,
      `${FILE}:9:1 grids: unknown key; did you mean \`grid\`?`,
    ]);
  });

  test('loadSpec schema - names the range and the value received', () => {
    const lines = [
      ...BASE,
      'model:',
      '  dropout:',
      '    block1: 1.5',
      '  denseUnits: 0',
      'training: {batchSize: 2.5}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:6:13 model.dropout.block1: must be in [0, 1), got 1.5`,
      `${FILE}:7:15 model.denseUnits: must be at least 1, got 0`,
      `${FILE}:8:23 training.batchSize: must be a whole number, got 2.5`,
    ]);
  });

  test('loadSpec schema - says the type expected and the type received', () => {
    const lines = [...BASE, '  imageSize: big', 'training:', '  epochs: abc', 'model: [1]'];
    assert.deepEqual(problems(lines), [
      `${FILE}:4:14 dataset.imageSize: expected a number or a list, got string "big"`,
      `${FILE}:6:11 training.epochs: expected a number, got string "abc"`,
      `${FILE}:7:8 model: expected a mapping, got a list`,
    ]);
  });

  test('loadSpec schema - an empty section takes its defaults, but dataset is required', () => {
    const text = [...BASE, 'model:', 'grid:', '  # model.attention: [none]'].join('\n');
    const loaded = parseSpec(text, FILE);
    assert.equal(loaded.spec.model.attention, 'block1');
    assert.deepEqual(loaded.spec.grid, {});

    assert.deepEqual(problems(['name: test', 'dataset:']), [
      `${FILE}:2:1 dataset: expected a mapping, got an empty value`,
    ]);
  });

  test('loadSpec schema - refuses infinite numbers', () => {
    assert.deepEqual(problems([...BASE, 'training: {learningRate: .inf}']), [
      `${FILE}:4:26 training.learningRate: must be a finite number, got Infinity`,
    ]);
  });

  test('loadSpec schema - lists the allowed names of a placement, schedule or metric', () => {
    const lines = [
      ...BASE,
      'model: {attention: blok1}',
      'training: {schedule: cosin}',
      'callbacks:',
      '  checkpoint: {monitor: val_acc}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:4:20 model.attention: must be one of none, block1, block2, block3, all; got ` +
        `"blok1" (did you mean \`block1\`?)`,
      `${FILE}:5:22 training.schedule: must be one of constant, plateau, step, exponential, ` +
        `cosine; got "cosin" (did you mean \`cosine\`?)`,
      `${FILE}:7:25 callbacks.checkpoint.monitor: must be one of loss, accuracy, val_loss, ` +
        `val_accuracy; got "val_acc" (did you mean \`val_accuracy\`?)`,
    ]);
  });

  test('loadSpec schema - checks the fields of the schedule the spec names', () => {
    const lines = [...BASE, 'training:', '  schedule: {name: step, every: 3, factor: 2}'];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:26 training.schedule.every: unknown key; did you mean \`everyEpochs\`?`,
      `${FILE}:5:44 training.schedule.factor: must be below 1, got 2`,
    ]);
  });

  test('loadSpec schema - says a required key is missing at its parent', () => {
    assert.deepEqual(problems(['name: Test', 'dataset:', '  imageSize: 64']), [
      `${FILE}:1:7 name: must be lowercase letters, digits and dashes (max 63), got "Test"`,
      `${FILE}:2:1 dataset.root: required, but missing`,
    ]);
  });
});

describe('loadSpec grid checks', () => {
  test('loadSpec grid - accepts schedule names and objects as values', () => {
    const lines = [...BASE, 'grid:', '  training.schedule: [cosine, {name: step, everyEpochs: 5}]'];
    const loaded = parseSpec(lines.join('\n'), FILE);
    assert.deepEqual(loaded.spec.grid, {
      'training.schedule': ['cosine', { name: 'step', everyEpochs: 5 }],
    });
  });

  test('loadSpec grid - refuses unknown paths, groups and untrained settings', () => {
    const lines = [
      ...BASE,
      'grid:',
      '  model.dropout.dens: [0.1]',
      '  dropout.block3: [0.1]',
      '  model.dropout: [0.1]',
      '  dataset.imageSize: [64, 128]',
      '  search.seed: [1, 2]',
    ];
    const trained = 'grid keys name a setting under augmentation, model, training or callbacks';
    assert.deepEqual(problems(lines), [
      `${FILE}:5:3 grid.model.dropout.dens: \`model.dropout.dens\` is not a parameter of the ` +
        `spec; did you mean \`model.dropout.dense\`?`,
      `${FILE}:6:3 grid.dropout.block3: \`dropout.block3\` is not a parameter of the spec; did ` +
        `you mean \`model.dropout.block3\`?`,
      `${FILE}:7:3 grid.model.dropout: \`model.dropout\` is a group, not one parameter; use one ` +
        `of model.dropout.block1, model.dropout.block2, model.dropout.block3, model.dropout.dense`,
      `${FILE}:8:3 grid.dataset.imageSize: \`dataset.imageSize\` is not a trained parameter; ` +
        `${trained}`,
      `${FILE}:9:3 grid.search.seed: \`search.seed\` is not a trained parameter; ${trained}`,
    ]);
  });

  test('loadSpec grid - refuses an empty axis and an axis that is not a list', () => {
    const lines = [...BASE, 'grid:', '  model.attention: []', '  training.epochs: 10'];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:20 grid.model.attention: must list at least one value`,
      `${FILE}:6:20 grid.training.epochs: expected a list, got number 10; write [10] for a ` +
        `single value`,
    ]);
  });

  test('loadSpec grid - checks every value with the base rules, at the value', () => {
    const lines = [
      ...BASE,
      'grid:',
      '  model.dropout.dense: [0.3, 1.5, abc]',
      '  model.attention: [none, blok1]',
      '  augmentation.horizontalFlip: [true, no]',
      '  training.schedule:',
      '    - cosin',
      '    - {name: exponential, decayRate: 2}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:30 grid.model.dropout.dense[1]: must be in [0, 1), got 1.5`,
      `${FILE}:5:35 grid.model.dropout.dense[2]: expected a number, got string "abc"`,
      `${FILE}:6:27 grid.model.attention[1]: must be one of none, block1, block2, block3, all; ` +
        `got "blok1" (did you mean \`block1\`?)`,
      `${FILE}:7:39 grid.augmentation.horizontalFlip[1]: \`no\` is a string in YAML 1.2; write ` +
        `true or false`,
      `${FILE}:9:7 grid.training.schedule[0]: must be one of constant, plateau, step, ` +
        `exponential, cosine; got "cosin" (did you mean \`cosine\`?)`,
      `${FILE}:10:38 grid.training.schedule[1].decayRate: must be at most 1, got 2`,
    ]);
  });

  test('loadSpec grid - refuses a value listed twice, in any spelling', () => {
    const lines = [...BASE, 'grid:', '  training.schedule: [cosine, plateau, {name: cosine}]'];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:40 grid.training.schedule[2]: repeats the value at [0] ({"name": "cosine"}); ` +
        `list each value once`,
    ]);
  });

  test('loadSpec grid - refuses a grid larger than search.maxTrials, with the product', () => {
    const lines = [
      ...BASE,
      'search: {maxTrials: 10}',
      'grid:',
      '  model.attention: [none, block1, block2, block3]',
      '  model.dropout.dense: [0.1, 0.2, 0.3]',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:5:1 grid: 12 trials (4 x 3) is more than search.maxTrials (10); trim an axis or ` +
        `raise search.maxTrials`,
    ]);
  });

  test('loadSpec grid - reports base and grid problems together', () => {
    const lines = [
      'name: test',
      'dataset: {root: data, extra: 1}',
      'grid:',
      '  model.attention: [blok1]',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:2:23 dataset.extra: unknown key; expected one of root, imageSize, split, ` +
        `onCorrupt, maxPerClass`,
      `${FILE}:4:21 grid.model.attention[0]: must be one of none, block1, block2, block3, all; ` +
        `got "blok1" (did you mean \`block1\`?)`,
    ]);
  });
});

describe('loadSpec search checks', () => {
  test('loadSpec search - random search needs a count', () => {
    const lines = [...BASE, 'search: {method: random}', 'grid: {model.attention: [none, all]}'];
    assert.deepEqual(problems(lines), [
      `${FILE}:4:18 search.count: required when search.method is random: the number of trials to ` +
        `draw`,
    ]);
  });

  test('loadSpec search - random count cannot exceed the grid or maxTrials', () => {
    const lines = [
      ...BASE,
      'search: {method: random, count: 5, maxTrials: 3}',
      'grid: {model.attention: [none, all]}',
    ];
    assert.deepEqual(problems(lines), [
      `${FILE}:4:33 search.count: 5 is more than the 2 combination(s) in the grid (2); lower it ` +
        `or add values to the grid`,
      `${FILE}:4:33 search.count: 5 is more than search.maxTrials (3)`,
    ]);
  });

  test('loadSpec search - a count without random search is a mistake', () => {
    assert.deepEqual(problems([...BASE, 'search:', '  count: 3']), [
      `${FILE}:5:3 search.count: is only used when search.method is random; remove it or set ` +
        `method: random`,
    ]);
  });
});
