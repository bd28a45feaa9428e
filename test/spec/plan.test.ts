import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SpecError } from '../../lib/errors.js';
import { parseSpec } from '../../spec/load.js';
import { MAX_TRIAL_NAME_LENGTH, axisLabels, planTrials } from '../../spec/plan.js';

const BASE = ['name: test', 'dataset:', '  root: data'];

function planOf(lines: string[], file = '/specs/sweeps/test.yaml') {
  return planTrials(parseSpec([...BASE, ...lines].join('\n'), file));
}

describe('planTrials', () => {
  test('planTrials - plans one base trial when the grid is empty', () => {
    const plan = planOf(['grid: {}']);

    assert.equal(plan.total, 1);
    assert.deepEqual(plan.axes, []);
    assert.equal(plan.combinations, 1);
    assert.equal(plan.trials[0]?.name, 'base');
    assert.deepEqual(plan.trials[0]?.values, {});
    assert.equal(plan.trials[0]?.config.model.attention, 'block1');
  });

  test('planTrials - expands the grid in written axis order, last axis fastest', () => {
    const plan = planOf([
      'grid:',
      '  model.attention: [none, all]',
      '  model.dropout.dense: [0.3, 0.5, 0.7]',
    ]);

    assert.deepEqual(plan.axes, ['model.attention', 'model.dropout.dense']);
    assert.deepEqual(plan.axisSizes, [2, 3]);
    assert.equal(plan.total, 6);
    assert.deepEqual(
      plan.trials.map((trial) => trial.name),
      [
        'attention=none,dropout.dense=0.3',
        'attention=none,dropout.dense=0.5',
        'attention=none,dropout.dense=0.7',
        'attention=all,dropout.dense=0.3',
        'attention=all,dropout.dense=0.5',
        'attention=all,dropout.dense=0.7',
      ],
    );
    assert.deepEqual(
      plan.trials.map((trial) => trial.index),
      [0, 1, 2, 3, 4, 5],
    );
  });

  test('planTrials - applies the values to the config and makes the dataset root absolute', () => {
    const plan = planOf([
      'training: {schedule: cosine}',
      'grid:',
      '  training.schedule: [constant, {name: step, everyEpochs: 4}]',
    ]);
    const [first, second] = plan.trials;

    assert.deepEqual(first?.config.training.schedule, { name: 'constant' });
    assert.deepEqual(second?.config.training.schedule, {
      name: 'step',
      everyEpochs: 4,
      factor: 0.5,
    });
    assert.equal(second?.config.dataset.root, '/specs/sweeps/data');
    assert.equal(second?.name, 'schedule=step_everyEpochs-4');
    assert.deepEqual(second?.values, { 'training.schedule': { name: 'step', everyEpochs: 4 } });
  });

  test('planTrials - ids are the sweep id plus a hash of the values', () => {
    const plan = planOf(['grid: {model.attention: [none, all]}']);

    assert.match(plan.sweepId, /^test-[0-9a-f]{8}$/);
    for (const trial of plan.trials) {
      assert.match(trial.id, new RegExp(`^${plan.sweepId}-t[0-9a-f]{8}$`));
    }
    assert.equal(new Set(plan.trials.map((trial) => trial.id)).size, 2);
  });

  test('planTrials - a trial id does not depend on axis order or on the other trials', () => {
    const ab = planOf([
      'grid:',
      '  model.attention: [none, all]',
      '  model.dropout.dense: [0.3, 0.5]',
    ]);
    const ba = planOf([
      'grid:',
      '  model.dropout.dense: [0.5, 0.3]',
      '  model.attention: [all, none]',
    ]);

    // The spec hash differs (the grid is written differently), so compare the value hashes.
    const hashes = (plan: typeof ab) =>
      new Map(
        plan.trials.map((trial) => [trial.name.split(',').sort().join(','), trial.id.slice(-8)]),
      );
    assert.deepEqual(hashes(ab), hashes(ba));
  });

  test('planTrials - the sweep id follows the spec, not the file it came from', () => {
    const lines = ['grid: {model.attention: [none, all]}'];
    const a = planOf(lines, '/one/a.yaml');
    const b = planOf(lines, '/two/b.yaml');
    const c = planOf([...lines, 'training: {epochs: 5}'], '/one/a.yaml');

    assert.equal(a.sweepId, b.sweepId);
    assert.notEqual(a.sweepId, c.sweepId);
  });

  test('planTrials - random search draws count distinct trials, the same every time', () => {
    const lines = [
      'search: {method: random, count: 7, seed: 3}',
      'grid:',
      '  model.attention: [none, block1, block2, block3, all]',
      '  model.dropout.dense: [0.1, 0.2, 0.3, 0.4]',
      '  training.learningRate: [0.001, 0.01]',
    ];
    const first = planOf(lines);
    const again = planOf(lines);

    assert.equal(first.method, 'random');
    assert.equal(first.total, 7);
    assert.equal(first.combinations, 40);
    assert.equal(new Set(first.trials.map((trial) => trial.id)).size, 7);
    assert.deepEqual(
      again.trials.map((trial) => trial.id),
      first.trials.map((trial) => trial.id),
    );
    assert.deepEqual(
      first.trials.map((trial) => trial.index),
      [0, 1, 2, 3, 4, 5, 6],
    );
  });

  test('planTrials - random search with another seed draws other trials', () => {
    const grid = ['grid:', '  model.dropout.dense: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]'];
    const names = (seed: number) =>
      planOf([`search: {method: random, count: 3, seed: ${seed}}`, ...grid]).trials.map(
        (trial) => trial.name,
      );

    assert.notDeepEqual(names(1), names(2));
    assert.deepEqual(names(1), names(1));
  });

  test('planTrials - random search over the whole grid plans every combination once', () => {
    const plan = planOf([
      'search: {method: random, count: 6}',
      'grid:',
      '  model.attention: [none, all]',
      '  model.dropout.dense: [0.3, 0.5, 0.7]',
    ]);
    const grid = planOf([
      'grid:',
      '  model.attention: [none, all]',
      '  model.dropout.dense: [0.3, 0.5, 0.7]',
    ]);

    assert.deepEqual(
      plan.trials.map((trial) => trial.name),
      grid.trials.map((trial) => trial.name),
    );
  });

  test('planTrials - refuses a hand-built random search without a count', () => {
    const text = [...BASE, 'grid: {model.attention: [none, all]}'].join('\n');
    const loaded = parseSpec(text, '/s.yaml');
    loaded.spec.search = { ...loaded.spec.search, method: 'random' };

    assert.throws(() => planTrials(loaded), SpecError);
  });

  test('planTrials - keeps long names bounded and distinct', () => {
    const schedules = [0.91, 0.92].map((rate) => `{name: exponential, decayRate: ${rate}}`);
    const plan = planOf([
      'grid:',
      '  callbacks.reduceLrOnPlateau.minLearningRate: [0.000001, 0.0000001]',
      '  callbacks.earlyStopping.restoreBestWeights: [true, false]',
      `  training.schedule: [${schedules.join(', ')}]`,
      '  augmentation.horizontalFlip: [true]',
      '  callbacks.earlyStopping.minDelta: [0.0001]',
    ]);

    const names = plan.trials.map((trial) => trial.name);
    assert.equal(new Set(names).size, names.length);
    for (const name of names) {
      assert.ok(name.length <= MAX_TRIAL_NAME_LENGTH, name);
      assert.match(name, /^[A-Za-z0-9._=,+-]+$/);
    }
    assert.ok(names.some((name) => name.length === MAX_TRIAL_NAME_LENGTH));
  });
});

describe('axisLabels', () => {
  test('axisLabels - drops the section and keeps the full path when labels clash', () => {
    assert.deepEqual(axisLabels(['model.dropout.dense', 'training.epochs']), [
      'dropout.dense',
      'epochs',
    ]);
    assert.deepEqual(axisLabels(['a.x', 'b.x', 'c.y']), ['a.x', 'b.x', 'y']);
  });
});
