/**
 * HOG (docs/features.md section 2) on tfjs-backend-webgl, built the way that backend builds its
 * own kernels: GPGPUProgram classes whose `userCode` comes from the pure source builders
 * below, run by `MathBackendWebGL.runWebGLProgram`.
 *
 * Three programs, all in float32 on the GPU:
 * 1. cell histograms `[batch, cellsY, cellsX, orientations]`: each output texel walks its
 *    cell's pixels, takes the central-difference gradient, decides its bin without an
 *    arctangent (signs of cross products with the bin edges, exact for edges at 45, 90 and
 *    135 degrees, so exact 0/45/90/135-degree gradients land where the double reference
 *    puts them) and sums the magnitudes of its own bin, divided by the cell's pixel count;
 * 2. block scales `[batch, blocksY, blocksX, 2]`: the two L2-Hys factors of each block
 *    (`1 / sqrt(sum x^2 + eps^2)` before and after the clip at 0.2);
 * 3. the vector `[batch, hogLength]` in skimage's order (block row, block column, cell
 *    row, cell column, orientation): `min(x * s1, 0.2) * s2`.
 *
 * The shaders keep to GLSL ES 1.00 syntax (constant loop bounds, no integer `%`); the
 * feature backend (client/features/backend.ts) uses them on WebGL 2 only. Image and batch
 * sizes reach them as uniforms (tfjs's shape uniforms and our own), never in their source,
 * so one compiled program serves every image size: at size 0 (images kept at their own size)
 * a source per size cost a compilation per new size, most of the time on a software GPU.
 */
import type { GPGPUProgram, MathBackendWebGL } from '@tensorflow/tfjs-backend-webgl';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { HOG, type HogAttrs } from '../../../shared/features/kernels/names.ts';
import { hogGeometry, type HogGeometry } from '../../../shared/features/spec.ts';

/** L2-Hys epsilon squared (eps = 1e-5). */
const EPS2 = 1e-10;
/** The L2-Hys clip. */
const CLIP = 0.2;

/** A JS number as a GLSL float literal (always with a point or an exponent). */
export function glslFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`glslFloat: ${x} is not finite`);
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * The test "theta >= edge i" for a gradient (px, py) folded into the upper half-plane
 * (py > 0), as a GLSL boolean expression: the cross product of the edge direction with the
 * gradient is >= 0. The edges at 45, 90 and 135 degrees use the exact directions (1, 1),
 * (0, 1) and (-1, 1), whose tests are a single comparison, a sign or one addition: exact in
 * float32, so a gradient exactly on such an edge goes to the bin above it, as in double.
 */
export function edgeTest(i: number, n: number): string {
  const deg = (180 / n) * i; // in double, the quotient first, as scikit-image does
  if (deg === 45) return '(py >= px)';
  if (deg === 90) return '(px <= 0.0)';
  if (deg === 135) return '(px + py <= 0.0)';
  const rad = (deg * Math.PI) / 180;
  return `(${glslFloat(Math.cos(rad))} * py - ${glslFloat(Math.sin(rad))} * px >= 0.0)`;
}

/**
 * GLSL `int hogBin(float gx, float gy)`: the orientation bin of a gradient, as
 * `e(i) <= theta < e(i+1)` with `theta = degrees(atan2(gy, gx)) mod 180`. `gy == 0` is
 * theta 0 (bin 0) for either sign of gx, as the double reference has it.
 */
export function hogBinSource(n: number): string {
  const tests: string[] = [];
  for (let i = 1; i < n; i++) tests.push(`    if ${edgeTest(i, n)} k++;`);
  return `
  int hogBin(float gx, float gy) {
    if (gy == 0.0) return 0;
    // theta mod 180 is unchanged by the fold into the upper half-plane.
    float px = gy < 0.0 ? -gx : gx;
    float py = gy < 0.0 ? -gy : gy;
    int k = 0;
${tests.join('\n')}
    return k;
  }`;
}

/**
 * Cell histograms of `x` (`[batch, height, width]`): output `[batch, cellsY, cellsX, n]`,
 * each texel the sum of the magnitudes of its cell's pixels in its bin over the pixel count.
 */
export function hogHistogramSource(n: number, cell: number): string {
  return `
  ${hogBinSource(n)}

  void main() {
    ivec4 coords = getOutputCoords();
    int b = coords.x;
    int r0 = coords.y * ${cell};
    int c0 = coords.z * ${cell};
    int o = coords.w;
    float sum = 0.0;
    for (int dy = 0; dy < ${cell}; dy++) {
      int r = r0 + dy;
      bool inRows = r > 0 && r < height - 1;
      for (int dx = 0; dx < ${cell}; dx++) {
        int c = c0 + dx;
        float gx = 0.0;
        float gy = 0.0;
        if (c > 0 && c < width - 1) gx = getX(b, r, c + 1) - getX(b, r, c - 1);
        if (inRows) gy = getX(b, r + 1, c) - getX(b, r - 1, c);
        if (hogBin(gx, gy) == o) sum += sqrt(gx * gx + gy * gy);
      }
    }
    setOutput(sum / ${glslFloat(cell * cell)});
  }`;
}

/**
 * The two L2-Hys factors of each block of `hist` (`[batch, cellsY, cellsX, n]`): output
 * `[batch, blocksY, blocksX, 2]`, `[..., 0]` the first normalisation, `[..., 1]` the one
 * after the clip.
 */
export function hogBlockScaleSource(b: number, n: number): string {
  const loop = (body: string) => `
    for (int cy = 0; cy < ${b}; cy++) {
      for (int cx = 0; cx < ${b}; cx++) {
        for (int o = 0; o < ${n}; o++) {
          float v = getHist(k, by + cy, bx + cx, o);
          ${body}
        }
      }
    }`;
  return `
  void main() {
    ivec4 coords = getOutputCoords();
    int k = coords.x;
    int by = coords.y;
    int bx = coords.z;
    float sum = 0.0;
    ${loop('sum += v * v;')}
    float scale = 1.0 / sqrt(sum + ${glslFloat(EPS2)});
    if (coords.w == 0) {
      setOutput(scale);
      return;
    }
    float clipped = 0.0;
    ${loop(`float t = min(v * scale, ${glslFloat(CLIP)}); clipped += t * t;`)}
    setOutput(1.0 / sqrt(clipped + ${glslFloat(EPS2)}));
  }`;
}

/** The HOG vector `[batch, length]` from `hist` and `scales`, in skimage's order. */
export function hogNormaliseSource(b: number, n: number): string {
  return `
  void main() {
    ivec2 coords = getOutputCoords();
    int k = coords.x;
    int t = coords.y;
    int q = t / ${n};
    int o = t - q * ${n};
    t = q / ${b};
    int cx = q - t * ${b};
    q = t / ${b};
    int cy = t - q * ${b};
    int by = q / blocksX;
    int bx = q - by * blocksX;
    float v = getHist(k, by + cy, bx + cx, o);
    setOutput(min(v * getScales(k, by, bx, 0), ${glslFloat(CLIP)}) * getScales(k, by, bx, 1));
  }`;
}

export class HogHistogramProgram implements GPGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;
  customUniforms = [
    { name: 'height', type: 'int' as const },
    { name: 'width', type: 'int' as const },
  ];

  constructor(batch: number, p: HogAttrs, g: HogGeometry) {
    this.outputShape = [batch, g.cellsY, g.cellsX, p.orientations];
    this.userCode = hogHistogramSource(p.orientations, p.pixelsPerCell);
  }
}

export class HogBlockScaleProgram implements GPGPUProgram {
  variableNames = ['hist'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;

  constructor(batch: number, p: HogAttrs, g: HogGeometry) {
    this.outputShape = [batch, g.blocksY, g.blocksX, 2];
    this.userCode = hogBlockScaleSource(p.cellsPerBlock, p.orientations);
  }
}

export class HogNormaliseProgram implements GPGPUProgram {
  variableNames = ['hist', 'scales'];
  outputShape: number[];
  userCode: string;
  enableShapeUniforms = true;
  customUniforms = [{ name: 'blocksX', type: 'int' as const }];

  constructor(batch: number, p: HogAttrs, g: HogGeometry) {
    this.outputShape = [batch, g.length];
    this.userCode = hogNormaliseSource(p.cellsPerBlock, p.orientations);
  }
}

/** The HOG kernel on webgl: `x` `[batch, height, width]` to `[batch, hogLength]`. */
export function hogWebgl(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const x = args.inputs['x'] as TensorInfo;
  const backend = args.backend as MathBackendWebGL;
  const p = args.attrs as unknown as HogAttrs;
  const [batch, height, width] = x.shape as [number, number, number];
  const g = hogGeometry(height, width, p);
  if (batch === 0 || g.length === 0) return backend.makeTensorInfo([batch, g.length], 'float32', new Float32Array(0));
  const hist = backend.runWebGLProgram(new HogHistogramProgram(batch, p, g), [x], 'float32', [[height], [width]]);
  try {
    const scales = backend.runWebGLProgram(new HogBlockScaleProgram(batch, p, g), [hist], 'float32');
    try {
      return backend.runWebGLProgram(new HogNormaliseProgram(batch, p, g), [hist, scales], 'float32', [[g.blocksX]]);
    } finally {
      backend.disposeIntermediateTensorInfo(scales);
    }
  } finally {
    backend.disposeIntermediateTensorInfo(hist);
  }
}

export const hogWebglConfig: KernelConfig = {
  kernelName: HOG,
  backendName: 'webgl',
  kernelFunc: hogWebgl as unknown as KernelFunc,
};
