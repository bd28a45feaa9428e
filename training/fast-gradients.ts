/**
 * Faster gradients for the ops that dominate a training step of the attention CNN, computed by
 * TensorFlow's own fused kernels instead of tfjs's compositions of small ops.
 *
 * Measured on one step of the tutorial model (128x128, batch 32, 2 cores), tfjs's defaults
 * spend most of the backward pass in two places:
 *
 * - ReLU: tfjs computes `dy * step(x)`, and tfjs-node builds `Step` from four ops (IsNan,
 *   Greater, Select, Fill) before the multiply. TensorFlow's `ReluGrad` does it in one pass,
 *   tens of times faster on the largest activation.
 * - Max-pooling: tfjs-node runs TensorFlow's `MaxPoolGrad`, whose CPU kernel (Eigen) searches
 *   every window again. Keras runs oneDNN's pooling instead, which records the position of each
 *   maximum (a "workspace") and scatters the gradient through it; in eager mode TensorFlow only
 *   offers that kernel by its internal name, `_MklNativeMaxPoolGrad`. We recompute the forward
 *   pool with `_MklNativeMaxPool` to get the workspace, which is still about 10x faster.
 * - Bias: tfjs sums the gradient of a broadcast add with a generic reduction; `BiasAddGrad`
 *   does the same sum over all but the channel axis, several times faster.
 *
 * The results equal tfjs's defaults: exactly for ReLU and max-pooling on inputs without ties,
 * and up to float rounding (summation order) for the bias. Two differences, both irrelevant to
 * training: where a ReLU input is NaN the gradient is 0 (tfjs propagates NaN; the trainer stops
 * on a NaN loss first), and where a pooling window holds several equal maxima the gradient may
 * go to a different one of them (after a ReLU such ties are zeros, whose gradient the ReLU
 * zeroes anyway).
 *
 * Nothing changes until {@link useFastGradients} is called; it replaces tfjs's registered
 * gradients process-wide and can put the defaults back.
 */
import type {
  GradConfig,
  NamedAttrMap,
  Tensor,
  Tensor4D,
  TensorInfo,
} from '@tensorflow/tfjs-node';

import { logger } from '../lib/logger.js';
import { tf } from '../lib/tf.js';

/** The parts of tfjs-node's `NodeJSKernelBackend` used here (not in its public types). */
interface NativeBackend {
  binding: {
    TF_ATTR_BOOL: number;
    TF_ATTR_INT: number;
    TF_ATTR_STRING: number;
    TF_ATTR_TYPE: number;
    TF_FLOAT: number;
  };
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: OpAttr[],
    inputs: TensorInfo[],
    count: number,
  ): Tensor[];
}

interface OpAttr {
  name: string;
  type: number;
  value: boolean | number | number[] | string;
}

/** Which gradients {@link useFastGradients} replaced. */
export interface FastGradients {
  /** ReLU through `ReluGrad`. */
  relu: boolean;
  /** Max-pooling through oneDNN; false when the TensorFlow library lacks its kernels. */
  maxPool: boolean;
  /** The bias of a broadcast add through `BiasAddGrad`. */
  biasAdd: boolean;
}

const RELU = 'Relu';
const MAX_POOL = 'MaxPool';
const ADD = 'Add';

/** tfjs's own gradients, kept so that `useFastGradients(false)` can restore them. */
const defaults = new Map<string, GradConfig>();
let oneDnnPooling: boolean | undefined;

function nativeBackend(): NativeBackend {
  return tf.backend() as unknown as NativeBackend;
}

function floatType(backend: NativeBackend): OpAttr {
  return { name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT };
}

/**
 * The gradient of ReLU: `dy` where `features > 0`, else 0, in one TensorFlow kernel.
 *
 * @param dy Gradient of the ReLU's output, float32.
 * @param features The ReLU's input (its output gives the same result), same shape as `dy`.
 * @returns A new tensor shaped as `dy`; 0 where `features` is NaN.
 */
export function reluGradient(dy: Tensor, features: Tensor): Tensor {
  const backend = nativeBackend();
  return backend.executeSingleOutput('ReluGrad', [floatType(backend)], [dy, features]);
}

/** Pooling window, strides and padding as TensorFlow's pooling ops take them. */
export interface PoolWindow {
  /** `[1, height, width, 1]`. */
  ksize: number[];
  /** `[1, height, width, 1]`. */
  strides: number[];
  padding: 'VALID' | 'SAME';
}

/**
 * The gradient of a float32 NHWC max-pool by oneDNN: runs the pool again to get the position
 * of each maximum, then scatters `dy` to those positions.
 *
 * @param dy Gradient of the pool's output.
 * @param x The pool's input.
 * @param y The pool's output.
 * @returns A new tensor shaped as `x`.
 * @throws Error from TensorFlow when the library has no oneDNN kernels (see
 *   {@link useFastGradients}, which checks first).
 */
export function maxPoolGradient(dy: Tensor, x: Tensor, y: Tensor, window: PoolWindow): Tensor {
  const backend = nativeBackend();
  const { TF_ATTR_BOOL, TF_ATTR_INT, TF_ATTR_STRING } = backend.binding;
  const attrs: OpAttr[] = [
    floatType(backend),
    { name: 'ksize', type: TF_ATTR_INT, value: window.ksize },
    { name: 'strides', type: TF_ATTR_INT, value: window.strides },
    { name: 'padding', type: TF_ATTR_STRING, value: window.padding },
    { name: 'data_format', type: TF_ATTR_STRING, value: 'NHWC' },
    { name: 'workspace_enabled', type: TF_ATTR_BOOL, value: true },
    // TensorFlow registers its oneDNN kernels under this label; eager ops reach them with it.
    { name: '_kernel', type: TF_ATTR_STRING, value: 'MklNameChangeOp' },
  ];

  // The workspace must come from the same input: oneDNN reads positions from it unchecked.
  const [pooled, workspace] = backend.executeMultipleOutputs('_MklNativeMaxPool', attrs, [x], 2);
  try {
    return backend.executeSingleOutput('_MklNativeMaxPoolGrad', attrs, [x, y, dy, workspace!]);
  } finally {
    pooled!.dispose();
    workspace!.dispose();
  }
}

/**
 * The gradient of a bias added along the last axis: `dy` summed over every other axis.
 *
 * @param dy Gradient of the sum, rank 2 to 5, float32, last axis as long as the bias.
 * @returns A new rank-1 tensor, one value per channel.
 */
export function biasGradient(dy: Tensor): Tensor {
  const backend = nativeBackend();
  const format = { name: 'data_format', type: backend.binding.TF_ATTR_STRING, value: 'NHWC' };
  return backend.executeSingleOutput('BiasAddGrad', [floatType(backend), format], [dy]);
}

/** The pool window of tfjs's MaxPool attributes, or undefined where we keep tfjs's gradient. */
function poolWindow(x: Tensor, attrs: NamedAttrMap): PoolWindow | undefined {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (x.rank !== 4 || x.dtype !== 'float32') return undefined;

  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const padding = info.padInfo.type;
  if (padding !== 'VALID' && padding !== 'SAME') return undefined;

  return {
    ksize: [1, info.filterHeight, info.filterWidth, 1],
    strides: [1, info.strideHeight, info.strideWidth, 1],
    padding,
  };
}

const reluConfig: GradConfig = {
  kernelName: RELU,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as Tensor[];
    return { x: () => reluGradient(dy as Tensor, x!) };
  },
};

const maxPoolConfig: GradConfig = {
  kernelName: MAX_POOL,
  inputsToSave: ['x'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, y] = saved as Tensor[];
    const window = poolWindow(x!, attrs);
    if (window === undefined) return defaults.get(MAX_POOL)!.gradFunc(dy, saved, attrs);
    return { x: () => maxPoolGradient(dy as Tensor, x!, y!, window) };
  },
};

/** Whether `bias` is added along the last axis of `values`, as a layer's bias is. */
function isChannelBias(values: Tensor, bias: Tensor, dy: Tensor): boolean {
  return (
    bias.rank === 1 &&
    values.rank >= 2 &&
    values.rank <= 5 &&
    dy.dtype === 'float32' &&
    bias.shape[0] === values.shape[values.rank - 1] &&
    tf.util.arraysEqual(dy.shape, values.shape)
  );
}

const addConfig: GradConfig = {
  kernelName: ADD,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved as Tensor[];
    const gradient = dy as Tensor;
    if (isChannelBias(a!, b!, gradient)) {
      return { a: () => gradient.clone(), b: () => biasGradient(gradient) };
    }
    if (isChannelBias(b!, a!, gradient)) {
      return { a: () => biasGradient(gradient), b: () => gradient.clone() };
    }
    return defaults.get(ADD)!.gradFunc(dy, saved, attrs);
  },
};

/** Whether the TensorFlow library runs oneDNN's pooling kernels by name (checked once). */
function hasOneDnnPooling(): boolean {
  if (oneDnnPooling !== undefined) return oneDnnPooling;

  try {
    tf.tidy(() => {
      const x = tf.reshape(tf.range(0, 16, 1, 'float32'), [1, 4, 4, 1]);
      const y = tf.maxPool(x as Tensor4D, 2, 2, 'valid');
      const window: PoolWindow = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: 'VALID' };
      maxPoolGradient(tf.onesLike(y), x, y, window).dataSync();
    });
    oneDnnPooling = true;
  } catch (error) {
    logger.warn({ err: error }, 'oneDNN pooling unavailable, keeping the slower max-pool gradient');
    oneDnnPooling = false;
  }
  return oneDnnPooling;
}

/**
 * Replaces tfjs's gradients of ReLU, max-pooling and bias adds with TensorFlow's fused kernels
 * (see the module comment for what differs), or puts tfjs's back. Process-wide and idempotent:
 * every model trained afterwards in this process uses them.
 *
 * @param enabled True (default) to install the fast gradients, false to restore tfjs's.
 * @returns Which gradients are now the fast ones (`maxPool` stays false, with one warning
 *   logged, when the TensorFlow library has no oneDNN kernels).
 */
export function useFastGradients(enabled = true): FastGradients {
  for (const name of [RELU, MAX_POOL, ADD]) {
    if (!defaults.has(name)) defaults.set(name, tf.getGradient(name)!);
  }

  if (!enabled) {
    for (const config of defaults.values()) tf.registerGradient(config);
    return { relu: false, maxPool: false, biasAdd: false };
  }

  tf.registerGradient(reluConfig);
  tf.registerGradient(addConfig);
  const maxPool = hasOneDnnPooling();
  tf.registerGradient(maxPool ? maxPoolConfig : defaults.get(MAX_POOL)!);
  return { relu: true, maxPool, biasAdd: true };
}
