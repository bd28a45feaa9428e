/**
 * The `sweep` CLI in embedded mode, as a user runs it: each command a separate process on a
 * temp state folder, the dev server started on demand and stopped after, no-op trials.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { findFreePort, isPortFree } from '../../temporal/dev-server.js';
import { launchCli, runCli } from './temporal-harness.js';

// No-op trials never read the dataset, but `sweep start` checks it before starting anything.
const FLOWERS = fileURLToPath(new URL('../../../shared/datasets/flowers', import.meta.url));

const SPEC = `name: tiny
dataset:
  root: ${FLOWERS}
  imageSize: 32
  maxPerClass: 2
training:
  epochs: 1
grid:
  model.attention: [none, block1]
  model.dropout.dense: [0.3, 0.5]
execution:
  concurrency: 2
  retry:
    maximumAttempts: 1
  testOnly:
    failTrials: [2]
`;

describe('sweep CLI with the embedded server', { timeout: 240_000 }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sweep-cli-'));
    await writeFile(join(dir, 'tiny.yaml'), SPEC);
    port = await findFreePort();
    env = {
      ...process.env,
      SWEEP_STATE_DIR: join(dir, 'state'),
      SWEEP_TEMPORAL_PORT: String(port),
      SWEEP_TEMPORAL_UI_PORT: String(await findFreePort()),
      SWEEP_LOG_LEVEL: 'error',
    };
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function launch(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    return launchCli(args, { cwd: dir, env: { ...env, ...extraEnv } });
  }

  function sweep(args: string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs = 90_000) {
    return runCli(args, { cwd: dir, env: { ...env, ...extraEnv }, timeoutMs });
  }

  async function serverStopped(): Promise<boolean> {
    return !existsSync(join(dir, 'state', 'temporal-server.json')) && isPortFree('127.0.0.1', port);
  }

  test('cli - start runs the sweep here, reports its failed trial, stops the server', async () => {
    const run = await sweep(['start', 'tiny.yaml', '--trial-kind', 'noop', '--slots', '2']);
    const started = /started sweep (tiny-[0-9a-f]{8}): 4 trials on embedded server/;
    const sweepId = started.exec(run.stdout);

    assert.ok(sweepId !== null, run.stdout + run.stderr);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\//);
    assert.match(run.stdout, /sweep tiny-\w+ ended: 3 done, 0 running, 1 failed, 0 cancelled/);
    assert.match(run.stdout, /re-run the failed and cancelled trials: sweep resume tiny-/);
    assert.match(run.stderr, /1 trial\(s\) did not finish; re-run them with: sweep resume tiny-/);
    assert.ok(await serverStopped(), 'the embedded server was stopped');
  });

  test('cli - status, resume, report and list reopen the same state folder', async () => {
    const listed = await sweep(['list']);
    const sweepId = /^(tiny-[0-9a-f]{8})\s+completed\s+4 /m.exec(listed.stdout)?.[1];
    assert.ok(sweepId !== undefined, listed.stdout + listed.stderr);

    const status = await sweep(['status', sweepId, '--json']);
    const json = JSON.parse(status.stdout) as { concurrency: number; trials: { state: string }[] };
    assert.deepEqual(json.trials.map((row) => row.state), ['done', 'done', 'failed', 'done']);
    assert.equal(json.concurrency, 2, 'a finished sweep still reports its concurrency');

    // Without a terminal, --watch prints each trial's state, then ends as `sweep start` does.
    const watched = await sweep(['status', sweepId, '--watch']);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /^trial 2 .* failed after 1 attempt\(s\): /m);
    const ended = `^sweep ${sweepId} ended: 3 done, 0 running, 1 failed`;
    assert.match(watched.stdout, new RegExp(ended, 'm'));
    assert.match(watched.stdout, /^UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\//m);

    const resumed = await sweep(['resume', sweepId, '--trial-kind', 'noop']);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /re-queued 1 trial\(s\) in a new run of the sweep/);
    assert.match(resumed.stdout, /completed: 4 done, 0 running, 0 failed, 0 cancelled/);

    const report = await sweep(['report', sweepId, '--top', '2']);
    assert.match(report.stdout, /leaderboard \(top 2 of 4 done, by best val acc\)/);
    assert.match(report.stdout, /^model\.attention\s+none\s+2 /m);

    const again = await sweep(['start', 'tiny.yaml', '--trial-kind', 'noop']);
    assert.match(again.stdout, /sweep tiny-\w+ has already finished on embedded server/);
    assert.equal(again.code, 0);
    assert.ok(await serverStopped(), 'the embedded server was stopped');
  });

  /**
   * Writes SPEC as `<name>.yaml` with 2 attempts per trial and no failing trial, launches
   * `sweep start` on it with no-op trials of `trialMs`, and returns once a trial runs.
   */
  async function startUntilRunning(name: string, trialMs: number) {
    const spec = SPEC.replace('name: tiny', `name: ${name}`)
      .replace('maximumAttempts: 1', 'maximumAttempts: 2')
      .replace(/ {2}testOnly:\n {4}failTrials: \[2\]\n/, '');
    await writeFile(join(dir, `${name}.yaml`), spec);
    const slow = { SWEEP_NOOP_TRIAL_MS: String(trialMs) };

    const child = launch(['start', `${name}.yaml`, '--trial-kind', 'noop'], slow);
    const output = { stdout: '', stderr: '' };
    child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));

    // Bounded: a start that fails early must fail the test, not hang it.
    const deadline = Date.now() + 60_000;
    while (!/ running\n/.test(output.stdout)) {
      const printed = output.stdout + output.stderr;
      assert.ok(child.exitCode === null && Date.now() < deadline, `no trial ran:\n${printed}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    /** Runs `sweep start` on the same spec again, to its end. */
    const startAgain = () =>
      sweep(['start', `${name}.yaml`, '--trial-kind', 'noop'], slow, 120_000);
    return { child, output, closed, startAgain };
  }

  test('cli - start after a crash continues the same sweep on the same server', async () => {
    // The trial the crash interrupts times out (one heartbeat timeout) and takes its 2nd try.
    const first = await startUntilRunning('slow', 1500);
    first.child.kill('SIGKILL');
    await first.closed;

    const second = await first.startAgain();
    assert.match(second.stdout, /sweep slow-\w+ is already running on embedded server/);
    assert.match(second.stdout, /completed: 4 done, 0 running, 0 failed, 0 cancelled/);
    assert.match(second.stdout, /trial \d .* done: .*\n/);
    assert.equal(second.code, 0);
    assert.ok(await serverStopped(), 'the server left by the crash was stopped');
  });

  test('cli - Ctrl-C stops start with 130 and how to go on; start again finishes', async () => {
    const first = await startUntilRunning('ctrlc', 3000);
    first.child.kill('SIGINT');
    const timer = setTimeout(() => first.child.kill('SIGKILL'), 60_000);
    const code = await first.closed;
    clearTimeout(timer);

    const { stdout, stderr } = first.output;
    assert.equal(code, 130, stdout + stderr);
    assert.match(stderr, /^stopping: trials stop at their next batch/m);
    assert.match(stderr, /^stopped; the sweep is saved in .*; continue it with: sweep start/m);
    assert.doesNotMatch(stderr, /"level":[4-9]0/, 'a stop asked for is not a warning');
    assert.ok(await serverStopped(), 'the embedded server was stopped');

    const second = await first.startAgain();
    assert.match(second.stdout, /sweep ctrlc-\w+ is already running on embedded server/);
    assert.match(second.stdout, /completed: 4 done, 0 running, 0 failed, 0 cancelled/);
    assert.equal(second.code, 0, second.stdout + second.stderr);
  });
});
