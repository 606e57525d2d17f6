import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
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
import { addPatchesImpl, flippedFilterImpl, patchesSize, patchesTransposedImpl, transposeImpl, type ConvGeometry } from './conv_grad_impl.ts';

/** The parts of tfjs-backend-wasm's backend this kernel uses (its class is not exported as a type). */
interface WasmBackend extends KernelBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array<ArrayBuffer>;
  readSync(dataId: object): Float32Array<ArrayBuffer>;
  disposeData(dataId: object): boolean;
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

/**
 * Conv2DBackpropFilter for the wasm backend, which has none: the input's patches in wasm
 * memory (conv_filter_grad_impl), then the backend's own MatMul with dy. NHWC only (what
 * tfjs-layers uses).
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
  // allocate before reading x: growing the wasm heap would detach a view of it
  const patches = b.makeOutput([K, M], 'float32');
  patchesTransposedImpl(b.readSync(x.dataId), g, b.typedArrayFromHeap(patches).subarray(0, patchesSize(g)));
  const dw = matMul(b, patches, { dataId: dy.dataId, shape: [M, info.outChannels], dtype: dy.dtype });
  b.disposeData(patches.dataId);
  return { dataId: dw.dataId, shape: [...a.filterShape], dtype: 'float32' };
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

let registered = false;

/** Registers the training kernels the wasm backend lacks (once). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!getKernel(Conv2DBackpropFilter, 'wasm')) registerKernel({ kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilterWasm });
  // replaces the backend's own: registerKernel refuses a name that is taken
  unregisterKernel(Conv2DBackpropInput, 'wasm');
  registerKernel({ kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2dBackpropInputWasm });
}
