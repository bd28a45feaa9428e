import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { canonicalJson, hashValue, sweepIdOf, trialIdOf } from '../../spec/ids.js';

describe('canonicalJson', () => {
  test('canonicalJson - sorts keys at every depth and drops whitespace', () => {
    const value = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } };
    assert.equal(canonicalJson(value), '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  test('canonicalJson - leaves out undefined entries and writes -0 as 0', () => {
    assert.equal(canonicalJson({ a: undefined, b: -0 }), '{"b":0}');
  });

  test('canonicalJson - refuses values JSON cannot hold exactly', () => {
    assert.throws(() => canonicalJson(Number.NaN), {
      name: 'TypeError',
      message: 'canonical JSON cannot hold the number NaN',
    });
    assert.throws(() => canonicalJson({ a: 1n }), {
      name: 'TypeError',
      message: 'canonical JSON cannot hold a bigint',
    });
  });
});

describe('ids', () => {
  test('ids - a trial id is the same whatever the order of its keys', () => {
    const a = trialIdOf('s-12345678', { 'model.attention': 'none', 'training.epochs': 5 });
    const b = trialIdOf('s-12345678', { 'training.epochs': 5, 'model.attention': 'none' });

    assert.equal(a, b);
    assert.match(a, /^s-12345678-t[0-9a-f]{8}$/);
    assert.notEqual(a, trialIdOf('s-12345678', { 'model.attention': 'all', 'training.epochs': 5 }));
  });

  test('ids - a sweep id is the name plus 8 hex digits of the spec hash', () => {
    const hash = hashValue({ name: 'x' });
    assert.equal(hash.length, 64);
    assert.equal(sweepIdOf('dropout', hash), `dropout-${hash.slice(0, 8)}`);
  });

  test('ids - hashes are stable across runs (known value)', () => {
    // sha256 of the 2 characters `{}`; a change here would rename every existing trial.
    assert.equal(
      hashValue({}),
      '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    );
  });
});
