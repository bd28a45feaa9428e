/**
 * The trial activity in a mock activity context: how each ending maps onto Temporal's
 * failure model, heartbeats, resume, GPU slots and threads. The fake trainer stands in for
 * TensorFlow.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';

import { createTrialActivities, trialRunDir } from '../../activities/trial.js';
import type { TrialActivityInput, TrialOutcome, TrialProgress } from '../../workflows/types.js';
import { baseTrialConfig } from '../integration/temporal-harness.js';

const FAKE_ENTRY = fileURLToPath(new URL('./fixtures/fake-trainer-entry.ts', import.meta.url));

describe('trial activity', { timeout: 60_000 }, () => {
  let stateDir: string;

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'sweep-trial-activity-'));
  });

  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  function input(trialId: string, overrides: Partial<TrialActivityInput> = {}): TrialActivityInput {
    return {
      sweepId: 'sw',
      trialId,
      trialIndex: 0,
      trialName: 'base',
      config: baseTrialConfig(),
      priorAttempts: 0,
      failFirstAttempt: false,
      ...overrides,
    };
  }

  function activities(mode: string, options: { gpus?: string[]; slots?: number } = {}) {
    process.env.FAKE_TRAINER_MODE = mode;
    return createTrialActivities({
      stateDir,
      entryScript: FAKE_ENTRY,
      slots: options.slots ?? 1,
      threadsPerTrial: 3,
      heartbeatIntervalMs: 50,
      killGraceMs: 500,
      ...(options.gpus === undefined ? {} : { gpus: options.gpus }),
    });
  }

  /** Runs the trial activity of a fake trainer in `mode` inside `env`. */
  function runIn(
    env: MockActivityEnvironment,
    mode: string,
    trial: TrialActivityInput,
    options: { gpus?: string[]; slots?: number } = {},
  ): Promise<TrialOutcome> {
    return env.run(activities(mode, options).runTrial, trial) as Promise<TrialOutcome>;
  }

  async function trialLog(trialId: string): Promise<string> {
    return readFile(join(trialRunDir(stateDir, 'sw', trialId), 'trial.log'), 'utf8');
  }

  test('trial activity - returns a small summary and heartbeats every epoch', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats: TrialProgress[] = [];
    env.on('heartbeat', (details: TrialProgress) => beats.push({ ...details }));

    const outcome = await env.run(activities('ok').runTrial, input('ok'));

    assert.deepEqual(outcome, {
      epochsRun: 2,
      bestEpoch: 2,
      bestValAccuracy: 0.7,
      testAccuracy: 0.65,
      testLoss: 0.9,
      stoppedEarly: false,
      durationMs: 5,
      attempt: 1,
      runDir: trialRunDir(stateDir, 'sw', 'ok'),
    });
    assert.deepEqual(beats.at(-1), { epoch: 2, checkpointDir: 'ckpt-2', bestValAccuracy: 0.7 });
    assert.match(await trialLog('ok'), /env cuda= threads=3/);
  });

  test('trial activity - resumes from the checkpoint on a retry', async () => {
    const retry = new MockActivityEnvironment({ attempt: 2 });
    assert.equal((await runIn(retry, 'ok', input('r1'))).epochsRun, 7);

    const afterTimeout = new MockActivityEnvironment({
      attempt: 1,
      heartbeatDetails: { epoch: 1, checkpointDir: 'ckpt-1', bestValAccuracy: 0.6 },
    });
    assert.equal((await runIn(afterTimeout, 'ok', input('r2'))).epochsRun, 7);

    const resumedTrial = new MockActivityEnvironment({ attempt: 1 });
    const again = input('r3', { priorAttempts: 1 });
    assert.equal((await runIn(resumedTrial, 'ok', again)).epochsRun, 7);
  });

  test('trial activity - a diverged trial fails without retry, keeping its code', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    const error = await env.run(activities('diverge').runTrial, input('nan')).catch((e) => e);

    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'TRIAL_DIVERGED');
    assert.equal(error.nonRetryable, true);
    assert.equal(
      error.message,
      'trial nan failed: training diverged: loss became NaN at epoch 1, batch 3',
    );
    assert.deepEqual(error.details, [
      {
        attempt: 1,
        code: 'TRIAL_DIVERGED',
        progress: { epoch: 0, checkpointDir: null, bestValAccuracy: null },
      },
    ]);
  });

  test('trial activity - a crashed process is a retryable failure', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    const error = await env.run(activities('crash').runTrial, input('boom')).catch((e) => e);

    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'TRIAL_PROCESS_CRASHED');
    assert.equal(error.nonRetryable, false);
  });

  test('trial activity - cancellation kills the process and confirms the cancel', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    let epochs = 0;
    env.on('heartbeat', (details: TrialProgress) => (epochs = details.epoch));

    const running = env.run(activities('hang').runTrial, input('stop'));
    while (epochs === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    env.cancel('CANCELLED');

    const error = await running.catch((e: unknown) => e);
    assert.ok(error instanceof CancelledFailure);
    assert.equal(error.message, 'trial cancelled');
  });

  test('trial activity - a worker shutdown hands the trial back for a retry', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    let epochs = 0;
    env.on('heartbeat', (details: TrialProgress) => (epochs = details.epoch));

    const running = env.run(activities('hang').runTrial, input('drain'));
    while (epochs === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    env.cancel('WORKER_SHUTDOWN', { workerShutdown: true } as never);

    const error = await running.catch((e: unknown) => e);
    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'TRIAL_HANDED_BACK');
    assert.equal(error.nonRetryable, false);
    assert.equal(
      error.message,
      'the worker shut down; the next attempt resumes from the last checkpoint',
    );
  });

  test('trial activity - each running trial sees only its own GPU', async () => {
    const runTrial = activities('ok', { gpus: ['4', '5'], slots: 2 }).runTrial;
    await Promise.all([
      new MockActivityEnvironment({ attempt: 1 }).run(runTrial, input('g0')),
      new MockActivityEnvironment({ attempt: 1 }).run(runTrial, input('g1')),
    ]);

    const logs = [await trialLog('g0'), await trialLog('g1')];
    const seen = logs.map((log) => /cuda=(\d)/.exec(log)?.[1]);
    assert.deepEqual(seen.sort(), ['4', '5']);
  });

  test('trial activity - the test-only knob fails the first attempt only', async () => {
    const knob = input('flaky', { failFirstAttempt: true });
    const first = new MockActivityEnvironment({ attempt: 1 });
    const error = await first.run(activities('ok').runTrial, knob).catch((e) => e);

    assert.ok(error instanceof ApplicationFailure);
    assert.equal(error.type, 'TEST_ONLY_FAILURE');

    const second = new MockActivityEnvironment({ attempt: 2 });
    assert.equal((await runIn(second, 'ok', knob)).attempt, 2);
  });
});
