import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { hashString, mixSeeds, mulberry32, shuffleInPlace } from '../../lib/random.js';

describe('seeded random numbers', () => {
  test('mulberry32 - repeats its sequence for a seed and stays in [0, 1)', () => {
    const first = mulberry32(123);
    const second = mulberry32(123);
    const values = Array.from({ length: 1000 }, () => first());

    assert.deepEqual(values, Array.from({ length: 1000 }, () => second()));
    assert.ok(values.every((value) => value >= 0 && value < 1));
    assert.notEqual(mulberry32(124)(), values[0]);
  });

  test('mixSeeds - depends on the order of its parts', () => {
    assert.equal(mixSeeds(1, 2), mixSeeds(1, 2));
    assert.notEqual(mixSeeds(1, 2), mixSeeds(2, 1));
    assert.notEqual(mixSeeds(0), mixSeeds(0, 0));
  });

  test('shuffleInPlace - gives a permutation decided by the seed', () => {
    const items = [...Array(20).keys()];
    const again = [...items];

    shuffleInPlace(items, mulberry32(hashString('daisy')));
    shuffleInPlace(again, mulberry32(hashString('daisy')));

    assert.deepEqual(items, again);
    assert.deepEqual([...items].sort((a, b) => a - b), [...Array(20).keys()]);
    assert.notDeepEqual(items, [...Array(20).keys()]);
  });
});
