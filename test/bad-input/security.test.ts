/**
 * Names that could walk out of a folder: a sweep name or trial id with `../` never makes a
 * path outside the state folder. (Grid values with `../` are refused by the spec checks, see
 * spec.test.ts; MLflow artifact paths with `..` in test/tracking/client.test.ts; YAML tags in
 * test/spec/load.test.ts; servers listening on loopback in test/faults/tracked-sweep.test.ts.)
 */
import assert from 'node:assert/strict';
import { isAbsolute, relative } from 'node:path';
import { describe, test } from 'node:test';

import { trialRunDir } from '../../activities/trial.js';
import { SpecError } from '../../lib/errors.js';
import { parseSpec } from '../../spec/load.js';

describe('names that could escape a folder', () => {
  test('security - a sweep name with ../ or / is refused', () => {
    for (const name of ['../../etc', 'a/b', '..']) {
      assert.throws(
        () => parseSpec(`name: "${name}"\ndataset:\n  root: /x\n`, 'escape.yaml'),
        (error: unknown) => {
          assert.ok(error instanceof SpecError);
          assert.equal(
            error.issues[0]?.message,
            `must be lowercase letters, digits and dashes (max 63), got "${name}"`,
          );
          return true;
        },
      );
    }
  });

  test('security - a run folder stays inside the state folder whatever the ids', () => {
    const stateDir = '/srv/sweep-state';
    const ids = ['../../etc', '../x', '/abs/path', 'a/../../b', 'x\0y', '.hidden', '..x'];

    for (const sweepId of ids) {
      for (const trialId of ids) {
        const runDir = trialRunDir(stateDir, sweepId, trialId);
        const segments = relative(`${stateDir}/runs`, runDir).split('/');

        assert.equal(segments.length, 2, runDir);
        assert.ok(!isAbsolute(relative(stateDir, runDir)), runDir);
        for (const segment of segments) assert.ok(segment !== '..' && segment !== '.', runDir);
      }
    }
  });

  test('security - ids that are exactly . or .. get a folder of their own', () => {
    const stateDir = '/srv/sweep-state';

    assert.equal(trialRunDir(stateDir, '..', '..'), '/srv/sweep-state/runs/__/__');
    assert.equal(trialRunDir(stateDir, '.', 'trial'), '/srv/sweep-state/runs/_/trial');
  });
});
