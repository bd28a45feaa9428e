/**
 * The Keras callbacks the trainer runs after each epoch: best-epoch checkpointing, learning
 * rate reduction on plateau and early stopping. Pure decision logic over epoch logs; the
 * trainer owns the weights and the optimizer. Each callback's `state()` and `fromState()`
 * let a trial resume mid-way with the same future decisions.
 */
export { ModelCheckpoint, type CheckpointOptions, type CheckpointState } from './checkpoint.js';
export {
  EarlyStopping,
  type EarlyStoppingOptions,
  type EarlyStoppingState,
} from './early-stopping.js';
export {
  checkMonitors,
  isImprovement,
  resolveDirection,
  type Direction,
  type EpochLogs,
  type MonitorMode,
} from './monitor.js';
export {
  ReduceLrOnPlateau,
  type LearningRateReduction,
  type ReduceLrOnPlateauOptions,
  type ReduceLrOnPlateauState,
} from './reduce-lr-on-plateau.js';
