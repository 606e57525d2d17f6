import {
  backend_util,
  Cast,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  Identity,
  registerKernel,
  unregisterKernel,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type DataType,
  type KernelBackend,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { addPatchesImpl, filterFromConvImpl, flippedFilterImpl, patchesSize, patchesTransposedImpl, transposeImpl, type ConvGeometry } from './conv_grad_impl.ts';

/** The parts of tfjs-backend-wasm's backend this kernel uses (its class is not exported as a type). */
interface WasmBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array<ArrayBuffer>;
  readSync(dataId: object): Float32Array<ArrayBuffer>;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
}

type Conv2DInfo = ReturnType<typeof backend_util.computeConv2DInfo>;

function geometry(info: Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

const matMul = (backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo =>
  getKernel('BatchMatMul', 'wasm')!.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;

const transpose = (backend: WasmBackend, x: TensorInfo, perm: number[]): TensorInfo =>
  getKernel('Transpose', 'wasm')!.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;

const conv2d = (backend: WasmBackend, x: TensorInfo, filter: TensorInfo, pad: NamedAttrMap['pad'], dilations: number): TensorInfo =>
  getKernel('Conv2D', 'wasm')!.kernelFunc({ inputs: { x, filter }, backend, attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined } as unknown as NamedAttrMap }) as TensorInfo;

/**
 * Conv2DBackpropFilter for the wasm backend, which has none. dW[fy, fx, c, o] sums
 * x[n, oy * s + fy - pad, ox * s + fx - pad, c] * dy[n, oy, ox, o] over n, oy, ox: a convolution
 * of x with channels and batch swapped ([C, H, W, N]) by dy as a filter ([Ho, Wo, N, O],
 * dilated by the stride), whose [C, fh, fw, O] output is dW reordered. That runs on the
 * backend's XNNPACK convolution; an explicit im2col (a JS loop writing fh * fw * C values per
 * output position, then MatMul) took three times as long, and is kept for one or two input
 * channels (the stem), where the patches are few and the transposes not worth it. NHWC only.
 */
const conv2dBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WasmBackend;
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (wasm) supports NHWC only, not ${a.dataFormat}`);
  const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const g = geometry(info);
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const M = g.batch * g.outHeight * g.outWidth;
  if (g.inChannels <= 2 || g.strideHeight !== g.strideWidth) {
    // allocate before reading x: growing the wasm heap would detach a view of it
    const patches = b.makeOutput([K, M], 'float32');
    patchesTransposedImpl(b.readSync(x.dataId), g, b.typedArrayFromHeap(patches).subarray(0, patchesSize(g)));
    const dw = matMul(b, patches, { dataId: dy.dataId, shape: [M, info.outChannels], dtype: dy.dtype });
    b.disposeData(patches.dataId);
    return { dataId: dw.dataId, shape: [...a.filterShape], dtype: 'float32' };
  }
  const s = g.strideHeight;
  // padding after the image so that the output has (at least) the filter's size; what lies
  // beyond it is cropped below
  const padBottom = Math.max(0, g.filterHeight + s * (g.outHeight - 1) - g.inHeight - g.padTop);
  const padRight = Math.max(0, g.filterWidth + s * (g.outWidth - 1) - g.inWidth - g.padLeft);
  const xT = transpose(b, x, [3, 1, 2, 0]);
  const dyT = transpose(b, dy, [1, 2, 0, 3]);
  const full = conv2d(b, xT, dyT, [[0, 0], [g.padTop, padBottom], [g.padLeft, padRight], [0, 0]] as unknown as NamedAttrMap['pad'], s);
  b.disposeData(xT.dataId);
  b.disposeData(dyT.dataId);
  const dw = b.makeOutput([...a.filterShape], 'float32');
  const [, fh, fw] = full.shape as [number, number, number, number];
  filterFromConvImpl(b.typedArrayFromHeap(full), g.inChannels, fh, fw, info.outChannels, g.filterHeight, g.filterWidth, b.typedArrayFromHeap(dw));
  b.disposeData(full.dataId);
  return dw;
};

/**
 * Conv2DBackpropInput for the wasm backend, whose own is a plain loop: dy . W^T by the
 * backend's MatMul gives each output position's patch gradient, added back in place (col2im).
 */
const conv2dBackpropInputWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WasmBackend;
  const dy = inputs['dy'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropInput (wasm) supports NHWC only, not ${a.dataFormat}`);
  const filterShape = filter.shape as [number, number, number, number];
  const info = backend_util.computeConv2DInfo(a.inputShape, filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const g = geometry(info);
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const M = g.batch * g.outHeight * g.outWidth;
  const symmetric = g.strideHeight === 1 && g.strideWidth === 1 && g.filterHeight % 2 === 1 && g.filterWidth % 2 === 1;
  if (symmetric && info.padInfo.top === info.padInfo.bottom && info.padInfo.left === info.padInfo.right && g.padTop === (g.filterHeight - 1) / 2 && g.padLeft === (g.filterWidth - 1) / 2) {
    // 'same' at stride 1: a convolution of dy with the flipped filter, on the backend's fast Conv2D
    const flipped = b.makeOutput([g.filterHeight, g.filterWidth, info.outChannels, g.inChannels], 'float32');
    flippedFilterImpl(b.readSync(filter.dataId), g.filterHeight, g.filterWidth, g.inChannels, info.outChannels, b.typedArrayFromHeap(flipped));
    const conv = getKernel('Conv2D', 'wasm')!.kernelFunc;
    const dx = conv({ inputs: { x: dy, filter: flipped }, backend, attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined } as unknown as NamedAttrMap }) as TensorInfo;
    b.disposeData(flipped.dataId);
    return dx;
  }
  const wT = b.makeOutput([info.outChannels, K], 'float32');
  transposeImpl(b.readSync(filter.dataId), K, info.outChannels, b.typedArrayFromHeap(wT));
  const dPatches = matMul(b, { dataId: dy.dataId, shape: [M, info.outChannels], dtype: dy.dtype }, wT);
  b.disposeData(wT.dataId);
  const dx = b.makeOutput([...a.inputShape], 'float32');
  const patchGrads = b.readSync(dPatches.dataId);
  b.disposeData(dPatches.dataId);
  addPatchesImpl(patchGrads, g, b.typedArrayFromHeap(dx));
  return dx;
};

/**
 * Identity, and Cast to the same type, sharing the input's memory (counted references, as the
 * wasm backend's Reshape and the cpu backend's Identity do) instead of copying it: the
 * gradient tape keeps every saved input and output as such a clone, a full copy per kernel
 * on wasm. Nothing in the backend writes into an existing tensor, so sharing is safe.
 */
function sharingKernel(name: string, original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs['x'] as TensorInfo;
    const dtype = (args.attrs as { dtype?: DataType } | undefined)?.dtype ?? x.dtype;
    if (name === Cast && dtype !== x.dtype) return original(args);
    if (x.dtype === 'string') return original(args);
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

let registered = false;

/** Registers the training kernels the wasm backend lacks (once). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!getKernel(Conv2DBackpropFilter, 'wasm')) registerKernel({ kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilterWasm });
  // replaces the backend's own: registerKernel refuses a name that is taken
  unregisterKernel(Conv2DBackpropInput, 'wasm');
  registerKernel({ kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2dBackpropInputWasm });
  for (const name of [Identity, Cast]) {
    const original = getKernel(name, 'wasm')!;
    unregisterKernel(name, 'wasm');
    registerKernel({ ...original, kernelFunc: sharingKernel(name, original.kernelFunc) });
  }
}
