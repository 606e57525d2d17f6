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

/** `patches^T` of an NHWC input: [filterHeight * filterWidth * inChannels, batch * outHeight * outWidth]. */
export function patchesTransposedImpl(x: Float32Array, g: ConvGeometry, cols = new Float32Array(patchesSize(g))): Float32Array {
  const M = g.batch * g.outHeight * g.outWidth;
  const C = g.inChannels;
  const rowStride = g.inWidth * C;
  const imageStride = g.inHeight * rowStride;
  for (let fy = 0; fy < g.filterHeight; fy++) {
    for (let fx = 0; fx < g.filterWidth; fx++) {
      const kBase = (fy * g.filterWidth + fx) * C;
      for (let c = 0; c < C; c++) {
        let o = (kBase + c) * M;
        for (let n = 0; n < g.batch; n++) {
          const image = n * imageStride + c;
          for (let oy = 0; oy < g.outHeight; oy++) {
            const iy = oy * g.strideHeight - g.padTop + fy * g.dilationHeight;
            if (iy < 0 || iy >= g.inHeight) {
              cols.fill(0, o, o + g.outWidth);
              o += g.outWidth;
              continue;
            }
            const row = image + iy * rowStride;
            for (let ox = 0; ox < g.outWidth; ox++) {
              const ix = ox * g.strideWidth - g.padLeft + fx * g.dilationWidth;
              cols[o++] = ix >= 0 && ix < g.inWidth ? x[row + ix * C]! : 0;
            }
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
