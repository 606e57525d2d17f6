/**
 * The filter gradient of a 2-D convolution as one matrix product: dW = patches^T . dy, where
 * row k = (fy, fx, c) of `patches^T` holds, for every output position m = (n, oy, ox), the input
 * value under filter tap (fy, fx) of channel c (zero in the padding). Laid out [K, M] so that
 * a backend's plain (untransposed) MatMul does the rest: the wasm backend has a fast one and
 * no Conv2DBackpropFilter.
 */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

export const patchesSize = (g: ConvGeometry): number => g.filterHeight * g.filterWidth * g.inChannels * g.batch * g.outHeight * g.outWidth;

/**
 * `patches^T` of an NHWC input: [filterHeight * filterWidth * inChannels, batch * outHeight * outWidth].
 * One image at a time, so that its values stay in cache while every tap's row of the output
 * gets that image's stretch (sweeping the whole batch once per tap was memory-bound); the
 * columns inside the input are copied without bounds tests, the padding ones zeroed.
 */
export function patchesTransposedImpl(x: Float32Array, g: ConvGeometry, cols = new Float32Array(patchesSize(g))): Float32Array {
  const { batch, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, padTop, padLeft } = g;
  const C = g.inChannels;
  const M = batch * outHeight * outWidth;
  const perImage = outHeight * outWidth;
  const rowStride = inWidth * C;
  const imageStride = inHeight * rowStride;
  for (let fx = 0; fx < filterWidth; fx++) {
    // output columns whose input column lies inside the image: [oxLo, oxHi)
    const shift = fx * dilationWidth - padLeft;
    let oxLo = 0;
    while (oxLo < outWidth && oxLo * strideWidth + shift < 0) oxLo++;
    let oxHi = outWidth;
    while (oxHi > oxLo && (oxHi - 1) * strideWidth + shift >= inWidth) oxHi--;
    for (let n = 0; n < batch; n++) {
      const image = n * imageStride;
      for (let fy = 0; fy < filterHeight; fy++) {
        const kBase = (fy * filterWidth + fx) * C;
        for (let c = 0; c < C; c++) {
          let o = (kBase + c) * M + n * perImage;
          const src = image + c + shift * C;
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * strideHeight - padTop + fy * dilationHeight;
            if (iy < 0 || iy >= inHeight) {
              cols.fill(0, o, o + outWidth);
              o += outWidth;
              continue;
            }
            const row = src + iy * rowStride;
            let ox = 0;
            for (; ox < oxLo; ox++) cols[o++] = 0;
            for (; ox < oxHi; ox++) cols[o++] = x[row + ox * strideWidth * C]!;
            for (; ox < outWidth; ox++) cols[o++] = 0;
          }
        }
      }
    }
  }
  return cols;
}

/**
 * The input gradient from the patches' gradient (col2im): `dPatches` is [M, K] (M output
 * positions, K = (fy, fx, c) taps), each added back to the input position it was read from.
 */
export function addPatchesImpl(dPatches: Float32Array, g: ConvGeometry, dx: Float32Array): Float32Array {
  dx.fill(0);
  const C = g.inChannels;
  const K = g.filterHeight * g.filterWidth * C;
  const rowStride = g.inWidth * C;
  const imageStride = g.inHeight * rowStride;
  let m = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++, m++) {
        const base = m * K;
        for (let fy = 0; fy < g.filterHeight; fy++) {
          const iy = oy * g.strideHeight - g.padTop + fy * g.dilationHeight;
          if (iy < 0 || iy >= g.inHeight) continue;
          for (let fx = 0; fx < g.filterWidth; fx++) {
            const ix = ox * g.strideWidth - g.padLeft + fx * g.dilationWidth;
            if (ix < 0 || ix >= g.inWidth) continue;
            const src = base + (fy * g.filterWidth + fx) * C;
            const dst = n * imageStride + iy * rowStride + ix * C;
            for (let c = 0; c < C; c++) dx[dst + c]! += dPatches[src + c]!;
          }
        }
      }
    }
  }
  return dx;
}

/** A [rows, cols] matrix transposed. */
export function transposeImpl(a: Float32Array, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/**
 * A [fh, fw, in, out] filter turned half a turn with in and out swapped, [fh, fw, out, in]:
 * a stride-1 convolution of dy with it, padded as the forward one, is the input gradient.
 */
export function flippedFilterImpl(w: Float32Array, fh: number, fw: number, cin: number, cout: number, out = new Float32Array(w.length)): Float32Array {
  for (let y = 0; y < fh; y++)
    for (let x = 0; x < fw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[(((fh - 1 - y) * fw + (fw - 1 - x)) * cout + o) * cin + i] = w[((y * fw + x) * cin + i) * cout + o]!;
  return out;
}

/**
 * The filter gradient [fh, fw, C, O] from a convolution's output [C, fullH, fullW, O] whose
 * first fh rows and fw columns are it (the rest, where there are any, are cropped).
 */
export function filterFromConvImpl(full: Float32Array, C: number, fullH: number, fullW: number, O: number, fh: number, fw: number, out = new Float32Array(fh * fw * C * O)): Float32Array {
  for (let c = 0; c < C; c++)
    for (let y = 0; y < fh; y++)
      for (let x = 0; x < fw; x++) {
        const src = ((c * fullH + y) * fullW + x) * O;
        out.set(full.subarray(src, src + O), ((y * fw + x) * C + c) * O);
      }
  return out;
}
