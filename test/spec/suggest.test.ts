import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { closestMatch, didYouMean, editDistance } from '../../spec/suggest.js';

describe('suggest', () => {
  test('suggest - edit distance counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('block1', 'blok1'), 1);
    assert.equal(editDistance('dense', 'desne'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });

  test('suggest - matches snake_case and case slips before counting edits', () => {
    assert.equal(closestMatch('batch_size', ['epochs', 'batchSize']), 'batchSize');
    assert.equal(closestMatch('LEARNINGRATE', ['learningRate']), 'learningRate');
  });

  test('suggest - matches a clipped name when only one candidate starts with it', () => {
    assert.equal(closestMatch('every', ['name', 'everyEpochs', 'factor']), 'everyEpochs');
    assert.equal(closestMatch('min', ['minDelta', 'minLearningRate']), undefined);
  });

  test('suggest - stays quiet when nothing is close', () => {
    assert.equal(closestMatch('lr', ['epochs', 'batchSize', 'learningRate']), undefined);
    assert.equal(didYouMean('grids', ['name', 'grid']), ' did you mean `grid`?');
    assert.equal(didYouMean('zzz', ['name', 'grid']), '');
  });
});
