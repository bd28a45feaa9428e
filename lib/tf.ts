/**
 * The one place that loads TensorFlow. Every other module imports `tf` from here, so the
 * native backend is checked once and the pure-JS backend (over 1000x slower) is never used
 * by accident.
 */
import { createRequire } from 'node:module';

import { BackendError } from './errors.js';

type Tf = typeof import('@tensorflow/tfjs-node');

/**
 * The binding package: `@tensorflow/tfjs-node` (CPU), or `@tensorflow/tfjs-node-gpu` on GPU
 * workers, which set `SWEEP_TFJS_PACKAGE` for their trial processes (built by
 * `scripts/setup.sh --gpu`; untested here, see README).
 */
export const TFJS_PACKAGE = process.env.SWEEP_TFJS_PACKAGE ?? '@tensorflow/tfjs-node';

function loadNative(): Tf {
  // TensorFlow's C++ start-up chatter (CPU features) is noise for our users.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

  if (!['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'].includes(TFJS_PACKAGE)) {
    throw new BackendError(
      `SWEEP_TFJS_PACKAGE must be @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, ` +
        `got ${TFJS_PACKAGE}`,
    );
  }

  const require = createRequire(import.meta.url);
  let native: Tf;
  try {
    native = require(TFJS_PACKAGE) as Tf;
  } catch (error) {
    throw new BackendError(
      `the native TensorFlow backend (${TFJS_PACKAGE}) failed to load: ${String(error)}`,
      { cause: error },
    );
  }

  if (native.getBackend() !== 'tensorflow') {
    throw new BackendError(
      `expected the native 'tensorflow' backend but tfjs chose '${native.getBackend()}'`,
    );
  }
  return native;
}

export const tf: Tf = loadNative();
