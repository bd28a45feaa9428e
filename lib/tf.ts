/**
 * The one place that loads TensorFlow. Every other module imports `tf` from here, so the
 * native backend is checked once and the pure-JS backend (over 1000x slower) is never used
 * by accident.
 */
import { createRequire } from 'node:module';

import { BackendError } from './errors.js';

type Tf = typeof import('@tensorflow/tfjs-node');

function loadNative(): Tf {
  // TensorFlow's C++ start-up chatter (oneDNN, CPU features) is noise for our users.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

  const require = createRequire(import.meta.url);
  let native: Tf;
  try {
    native = require('@tensorflow/tfjs-node') as Tf;
  } catch (error) {
    throw new BackendError(
      `the native TensorFlow backend (@tensorflow/tfjs-node) failed to load: ${String(error)}`,
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
