import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

import { REPO_ROOT } from '../../bench/common.js';

const run = promisify(execFile);

/** Threads of a fresh process after TensorFlow ran one op, with the given pool sizes. */
async function threadCount(intraOp: number, interOp: number): Promise<number> {
  const script = [
    "import { readdirSync } from 'node:fs';",
    "const { tf } = await import('./lib/tf.js');",
    'tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());',
    "console.log(readdirSync('/proc/self/task').length);",
  ].join('\n');
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: REPO_ROOT,
      timeout: 60_000,
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '3',
        TF_NUM_INTRAOP_THREADS: String(intraOp),
        TF_NUM_INTEROP_THREADS: String(interOp),
      },
    },
  );
  return Number(stdout.trim().split('\n').at(-1));
}

describe('TensorFlow thread variables', { skip: process.platform !== 'linux' }, () => {
  test('threads - the C library sizes its intra-op pool from TF_NUM_INTRAOP_THREADS', async () => {
    const one = await threadCount(1, 1);
    const four = await threadCount(4, 1);

    assert.equal(four - one, 3, `threads: ${one} with 1 intra-op thread, ${four} with 4`);
  });
});
