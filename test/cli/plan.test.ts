import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { plan } from '../../cli/commands/plan.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(REPO, 'bin', 'sweep.js');

/** Generous: the CLI starts tsx and may load the native TensorFlow binding. */
const CHILD_TIMEOUT_MS = 60_000;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/sweep.js ...args` from the repo root; killed after CHILD_TIMEOUT_MS. */
function runSweep(args: string[]): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, SWEEP_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('sweep plan', () => {
  test('sweep plan - prints the sweep id, axes, counts and one row per trial', async () => {
    const result = await runSweep(['plan', 'sweeps/dropout.yaml']);

    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^sweep dropout-[0-9a-f]{8} \(sweeps\/dropout\.yaml\)$/);
    assert.equal(lines[1], `dataset ${path.resolve(REPO, '../shared/datasets/flowers')}`);
    assert.equal(lines[2], 'axes: model.dropout.dense, model.dropout.block3');
    assert.equal(lines[3], '9 trials: 3 x 3');
    assert.equal(lines[4], '');
    assert.match(lines[5] ?? '', /^#\s+trial id\s+model\.dropout\.dense\s+model\.dropout\.block3$/);
    assert.equal(lines.length, 6 + 9);
    assert.match(lines[6] ?? '', /^0\s+dropout-[0-9a-f]{8}-t[0-9a-f]{8}\s+0\.3\s+0\.1$/);
    assert.match(lines[14] ?? '', /^8\s+dropout-[0-9a-f]{8}-t[0-9a-f]{8}\s+0\.7\s+0\.4$/);
  });

  test('sweep plan - refuses a bad spec with every problem and exit code 3', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sweep-plan-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      ['name: bad', 'dataset: {root: data}', 'model:', '  attention: blok1', '  dropuot: {}'].join(
        '\n',
      ),
    );

    const result = await runSweep(['plan', file]);

    assert.equal(result.code, 3);
    assert.equal(result.stdout, '');
    const expected = [
      `error: 2 problems in sweep spec ${file}:`,
      `  ${file}:4:14 model.attention: must be one of none, block1, block2, block3, all; ` +
        'got "blok1" (did you mean `block1`?)',
      `  ${file}:5:3 model.dropuot: unknown key; did you mean \`dropout\`?`,
      `hint: Fix the spec, then check it with: sweep plan ${file}`,
      '',
    ].join('\n');
    assert.ok(result.stderr.endsWith(expected), result.stderr);
  });
});

describe('plan command', () => {
  test('plan command - prints JSON without configs unless --full', async () => {
    const spec = path.join(REPO, 'sweeps', 'attention.yaml');

    const brief = JSON.parse(await plan({ spec, json: true, full: false }));
    const full = JSON.parse(await plan({ spec, json: false, full: true }));

    assert.equal(brief.total, 5);
    assert.deepEqual(brief.axes, ['model.attention']);
    assert.deepEqual(Object.keys(brief.trials[0]), ['index', 'id', 'name', 'values']);
    assert.deepEqual(brief.trials[4].values, { 'model.attention': 'all' });
    assert.equal(full.trials[4].config.model.attention, 'all');
  });

  test('plan command - says when the grid is empty or drawn at random', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sweep-plan-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const random = path.join(dir, 'random.yaml');
    await writeFile(
      random,
      [
        'name: pick',
        'dataset: {root: data}',
        'search: {method: random, count: 3, seed: 5}',
        'grid: {model.attention: [none, block1, block2, block3, all]}',
      ].join('\n'),
    );

    const tutorial = await plan({
      spec: path.join(REPO, 'sweeps', 'tutorial.yaml'),
      json: false,
      full: false,
    });
    const picked = await plan({ spec: random, json: false, full: false });

    assert.match(tutorial, /\n1 trial: no grid, the spec's own values\n/);
    assert.match(picked, /\n3 trials drawn at random \(seed 5\) from 5: 5\n/);
  });
});
