/**
 * The Python side of `keras-parity`: a virtualenv with PyPI's tensorflow-cpu of the same
 * version as our TensorFlow C library, created once in
 * `${SWEEP_CACHE_DIR:-~/.cache/attention-sweep}/keras-venv`.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { BackendError } from '../lib/errors.js';
import { logger } from '../lib/logger.js';

import { CACHE_DIR } from './common.js';

const run = promisify(execFile);

/** The TensorFlow release our native binding is built against (scripts/setup.sh). */
export const TENSORFLOW_VERSION = '2.21.0';

/** Where the virtualenv lives. */
export const KERAS_VENV = join(CACHE_DIR, 'keras-venv');

/** Where set-up keeps downloaded wheels; pip looks there first. */
const WHEELS = join(CACHE_DIR, 'wheels');

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function tensorflowVersion(python: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(
      python,
      ['-c', 'import tensorflow, scipy, PIL; print(tensorflow.__version__)'],
      { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' } },
    );
    return stdout.trim().split('\n').at(-1);
  } catch {
    return undefined;
  }
}

/** Python for the venv: `SWEEP_PYTHON`, else python3.11 (the wheel's), else python3. */
async function basePython(): Promise<string> {
  if (process.env.SWEEP_PYTHON !== undefined) return process.env.SWEEP_PYTHON;
  try {
    await run('python3.11', ['--version']);
    return 'python3.11';
  } catch {
    return 'python3';
  }
}

/**
 * Returns the venv's python, creating the venv and installing tensorflow-cpu (from the wheel
 * cache when it holds the wheel), scipy and Pillow (ImageDataGenerator needs both) if needed.
 * Takes a few minutes the first time.
 *
 * @throws BackendError when Python or pip fails, with pip's last lines.
 */
export async function ensureKerasVenv(): Promise<string> {
  const python = join(KERAS_VENV, 'bin/python');
  if ((await exists(python)) && (await tensorflowVersion(python)) === TENSORFLOW_VERSION) {
    return python;
  }

  logger.info({ venv: KERAS_VENV }, 'creating the keras virtualenv');
  const pip = [python, '-m', 'pip', 'install', '--disable-pip-version-check', '--quiet'];
  const requirement = `tensorflow-cpu==${TENSORFLOW_VERSION}`;
  try {
    await run(await basePython(), ['-m', 'venv', KERAS_VENV]);
    // The cached wheel first, alone, so pip does not fetch the same 270 MB again.
    if (await exists(WHEELS)) {
      const offline = ['--no-index', '--no-deps', '--find-links', WHEELS, requirement];
      await run(pip[0]!, [...pip.slice(1), ...offline]).catch(() => undefined);
    }
    await run(pip[0]!, [...pip.slice(1), '--find-links', WHEELS, requirement, 'scipy', 'pillow'], {
      maxBuffer: 16 * 2 ** 20,
    });
  } catch (error) {
    const output = (error as { stderr?: string }).stderr ?? String(error);
    throw new BackendError(
      `could not create the keras virtualenv in ${KERAS_VENV}: ${output.trim().slice(-1500)}`,
      { cause: error },
    );
  }

  const installed = await tensorflowVersion(python);
  if (installed !== TENSORFLOW_VERSION) {
    throw new BackendError(
      `the keras virtualenv in ${KERAS_VENV} has tensorflow ${installed ?? 'missing'}, ` +
        `expected ${TENSORFLOW_VERSION}; delete the folder and run the benchmark again`,
    );
  }
  return python;
}
