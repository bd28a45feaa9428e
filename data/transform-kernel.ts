/**
 * Makes `tf.image.transform` work on the native backend.
 *
 * tfjs-node 4.22 registers no `Transform` kernel, so the op fails with "Kernel 'Transform' not
 * registered for backend 'tensorflow'". TensorFlow's C library has the op the Python API uses
 * (`ImageProjectiveTransformV3`); this module registers a kernel that calls it, in the way
 * tfjs-node's own kernels call native ops. Importing the module is enough; it registers once and
 * leaves alone a kernel that a later tfjs-node version (or anyone else) already registered.
 */
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-node';

import { tf } from '../lib/tf.js';

/** The parts of tfjs-node's `NodeJSKernelBackend` a kernel uses (not in its public types). */
interface NativeBackend {
  binding: { TF_ATTR_STRING: number; TF_ATTR_TYPE: number };
  getDTypeInteger(dtype: string): number;
  executeSingleOutput(
    name: string,
    attrs: { name: string; type: number; value: unknown }[],
    inputs: TensorInfo[],
  ): TensorInfo;
}

/** Attributes tfjs-core's `transform` op passes to its kernel. */
interface TransformAttrs {
  interpolation: 'nearest' | 'bilinear';
  fillMode: 'constant' | 'reflect' | 'wrap' | 'nearest';
  fillValue: number;
  outputShape?: [number, number] | null;
}

const KERNEL_NAME = 'Transform';
const BACKEND_NAME = 'tensorflow';

function transformKernel(args: {
  inputs: NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as NativeBackend;
  const image = args.inputs.image as TensorInfo;
  const transforms = args.inputs.transforms as TensorInfo;
  const attrs = args.attrs as unknown as TransformAttrs;
  const [height, width] = attrs.outputShape ?? [image.shape[1], image.shape[2]];

  const { TF_ATTR_STRING, TF_ATTR_TYPE } = backend.binding;
  const opAttrs = [
    { name: 'dtype', type: TF_ATTR_TYPE, value: backend.getDTypeInteger(image.dtype) },
    { name: 'interpolation', type: TF_ATTR_STRING, value: attrs.interpolation.toUpperCase() },
    { name: 'fill_mode', type: TF_ATTR_STRING, value: attrs.fillMode.toUpperCase() },
  ];
  const outputShape = tf.tensor1d([height ?? 0, width ?? 0], 'int32');
  const fillValue = tf.scalar(attrs.fillValue, 'float32');

  try {
    return backend.executeSingleOutput('ImageProjectiveTransformV3', opAttrs, [
      image,
      transforms,
      outputShape,
      fillValue,
    ]);
  } finally {
    outputShape.dispose();
    fillValue.dispose();
  }
}

/**
 * Registers the native `Transform` kernel if none is registered yet. Idempotent; called when
 * this module is imported.
 */
export function ensureTransformKernel(): void {
  if (tf.getKernel(KERNEL_NAME, BACKEND_NAME) !== undefined) {
    return;
  }
  tf.registerKernel({
    kernelName: KERNEL_NAME,
    backendName: BACKEND_NAME,
    kernelFunc: transformKernel,
  });
}

ensureTransformKernel();
