/**
 * The trial's child process: IPC reports, typed failures, crashes and stopping, with a fake
 * trainer entry script (no TensorFlow).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  TrialAbortedError,
  TrialFailedError,
  TrialProcessCrashedError,
  type EpochReport,
} from '../../activities/ipc.js';
import { runTrialProcess } from '../../activities/trial-process.js';
import { baseTrialConfig } from '../integration/temporal-harness.js';

const FAKE_ENTRY = fileURLToPath(new URL('./fixtures/fake-trainer-entry.ts', import.meta.url));

describe('trial process', { timeout: 60_000 }, () => {
  let runDir: string;

  before(async () => {
    runDir = await mkdtemp(join(tmpdir(), 'sweep-trial-process-'));
  });

  after(async () => {
    await rm(runDir, { recursive: true, force: true });
  });

  function run(
    mode: string,
    options: { signal?: AbortSignal; resume?: boolean; killGraceMs?: number } = {},
  ) {
    const epochs: EpochReport[] = [];
    const promise = runTrialProcess({
      trialId: 't1',
      input: { config: baseTrialConfig(), runDir, resume: options.resume ?? false, threads: 1 },
      entryScript: FAKE_ENTRY,
      env: { FAKE_TRAINER_MODE: mode, CUDA_VISIBLE_DEVICES: '3' },
      killGraceMs: options.killGraceMs ?? 500,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onEpoch: (report) => epochs.push(report),
    });
    return { promise, epochs };
  }

  test('trial process - reports each epoch, then the summary', async () => {
    const { promise, epochs } = run('ok');
    const summary = await promise;

    assert.deepEqual(epochs.map((e) => [e.epoch, e.checkpointDir]), [[1, 'ckpt-1'], [2, 'ckpt-2']]);
    assert.equal(summary.epochsRun, 2);
    assert.equal(summary.runDir, 'cuda=3 threads=');
  });

  test('trial process - passes resume to the child', async () => {
    const summary = await run('ok', { resume: true }).promise;
    assert.equal(summary.epochsRun, 7);
  });

  test('trial process - keeps the code and retryability of the child\'s error', async () => {
    const error = await run('diverge').promise.catch((e: unknown) => e);

    assert.ok(error instanceof TrialFailedError);
    assert.equal(error.code, 'TRIAL_DIVERGED');
    assert.equal(error.retryable, false);
    assert.equal(
      error.message,
      'trial t1 failed: training diverged: loss became NaN at epoch 1, batch 3',
    );
  });

  test('trial process - a child that dies without a result is a retryable crash', async () => {
    const error = await run('crash').promise.catch((e: unknown) => e);

    assert.ok(error instanceof TrialProcessCrashedError);
    assert.equal(error.retryable, true);
    assert.equal(error.exitCode, 3);
    assert.equal(
      error.message,
      'trial t1: its process exited 3 before reporting a result\n' +
        'last output:\nenv cuda=3 threads=\nfake trainer: native crash',
    );
    assert.match(await readFile(join(runDir, 'trial.log'), 'utf8'), /fake trainer: native crash/);
  });

  test('trial process - abort stops the child with SIGTERM', async () => {
    const abort = new AbortController();
    // A long grace, so that a slow exit is never mistaken for the SIGKILL path.
    const { promise, epochs } = run('hang', { signal: abort.signal, killGraceMs: 20_000 });

    while (epochs.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const stoppedAtMs = Date.now();
    abort.abort();

    await assert.rejects(promise, TrialAbortedError);
    const stoppedMs = Date.now() - stoppedAtMs;
    assert.ok(stoppedMs < 10_000, `stopped ${stoppedMs} ms later, before the SIGKILL grace`);
  });

  test('trial process - a child that ignores SIGTERM is killed after the grace', async () => {
    const abort = new AbortController();
    const { promise, epochs } = run('stubborn', { signal: abort.signal });

    while (epochs.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const stoppedAtMs = Date.now();
    abort.abort();

    await assert.rejects(promise, TrialAbortedError);
    const waitedMs = Date.now() - stoppedAtMs;
    assert.ok(waitedMs >= 450 && waitedMs < 3000, `killed after ${waitedMs} ms`);
  });
});
