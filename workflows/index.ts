/**
 * The workflow bundle's entry: every workflow type a sweep worker registers. Deterministic
 * code only; `test/workflows/determinism.test.ts` rejects Node built-ins, TensorFlow and I/O.
 */
export { trialChunkWorkflow } from './chunk.js';
export { sweepWorkflow } from './sweep.js';
