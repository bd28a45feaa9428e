/**
 * Replays recorded histories (see `record-histories.ts`) through today's workflow code. A
 * change that would break running sweeps (a different command order, a removed handler)
 * fails here with a determinism error instead of in production.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Worker, type WorkflowBundle } from '@temporalio/worker';

import { loadWorkflowBundle } from '../../workers/bundle.js';
import { installRuntime } from '../../workers/runtime.js';

const HISTORIES_DIR = fileURLToPath(new URL('./histories/', import.meta.url));
const files = readdirSync(HISTORIES_DIR).filter((name) => name.endsWith('.json')).sort();

describe('workflow replay', { timeout: 120_000 }, () => {
  let bundle: WorkflowBundle;

  before(async () => {
    installRuntime();
    bundle = await loadWorkflowBundle();
  });

  test('replay - histories of every scenario are recorded', () => {
    const scenarios = new Set(files.map((name) => name.split('--')[0]));
    assert.deepEqual([...scenarios].sort(), ['cancel', 'rebalance-retry', 'resume-live']);
    assert.ok(files.some((name) => name.includes('--chunk-')), 'chunk histories recorded');
  });

  for (const name of files) {
    const title = name.replace(/\.json$/, '');
    test(`replay - ${title} replays without a determinism error`, async () => {
      const history = JSON.parse(readFileSync(join(HISTORIES_DIR, name), 'utf8')) as unknown;
      await Worker.runReplayHistory({ workflowBundle: bundle }, history);
    });
  }
});
