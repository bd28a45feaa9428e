import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { sampleDistinct, seededRandom } from '../../lib/random.js';

describe('seededRandom', () => {
  test('seededRandom - gives the same floats in [0, 1) for the same seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const first = Array.from({ length: 100 }, () => a());

    assert.deepEqual(first, Array.from({ length: 100 }, () => b()));
    assert.ok(first.every((value) => value >= 0 && value < 1));
    assert.notDeepEqual(first.slice(0, 5), Array.from({ length: 5 }, seededRandom(43)));
  });

  test('seededRandom - does not change between versions (known first draws)', () => {
    const random = seededRandom(0);
    const draws = [random(), random()].map((value) => value.toFixed(12));
    assert.deepEqual(draws, KNOWN_SEED_0);
  });
});

// Pinned so that a change to the generator, which would change every random sweep, is seen.
// mulberry32(0) starts with 1144304738 / 2^32 = 0.266429208...; the low bits come from the
// second output.
const KNOWN_SEED_0 = ['0.266429208222', '0.223272026674'];

describe('sampleDistinct', () => {
  test('sampleDistinct - draws distinct values inside the range', () => {
    const drawn = sampleDistinct(50, 60, seededRandom(7));

    assert.equal(drawn.length, 50);
    assert.equal(new Set(drawn).size, 50);
    assert.ok(drawn.every((value) => Number.isInteger(value) && value >= 0 && value < 60));
  });

  test('sampleDistinct - drawing all values gives a permutation', () => {
    const drawn = sampleDistinct(10, 10, seededRandom(1));
    assert.deepEqual([...drawn].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('sampleDistinct - a larger count keeps the earlier draws as a prefix', () => {
    const few = sampleDistinct(5, 1_000_000_000_000, seededRandom(9));
    const more = sampleDistinct(20, 1_000_000_000_000, seededRandom(9));
    assert.deepEqual(more.slice(0, 5), few);
  });

  test('sampleDistinct - refuses more values than the range holds', () => {
    assert.throws(() => sampleDistinct(4, 3, seededRandom(0)), {
      name: 'RangeError',
      message: 'cannot draw 4 distinct values from only 3',
    });
  });
});
