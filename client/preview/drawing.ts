import { hogGeometry, type FeatureSpec } from '../../shared/features/spec.ts';
import type { GreyImage } from '../../shared/image/grey.ts';

/**
 * Each cell's orientation histogram, recovered from the block-normalised HOG vector as the
 * mean of the cell's values over every block that holds it: `cellsY x cellsX x orientations`.
 */
export function cellHistogramsFromHog(hog: Float32Array, height: number, width: number, spec: FeatureSpec): Float32Array {
  const g = hogGeometry(height, width, spec);
  const n = spec.orientations;
  const b = spec.cellsPerBlock;
  const sums = new Float32Array(g.cellsY * g.cellsX * n);
  const hits = new Uint16Array(g.cellsY * g.cellsX);
  let i = 0;
  for (let by = 0; by < g.blocksY; by++) {
    for (let bx = 0; bx < g.blocksX; bx++) {
      for (let cy = 0; cy < b; cy++) {
        for (let cx = 0; cx < b; cx++) {
          const cell = (by + cy) * g.cellsX + bx + cx;
          hits[cell]!++;
          for (let o = 0; o < n; o++) sums[cell * n + o]! += hog[i++]!;
        }
      }
    }
  }
  for (let c = 0; c < hits.length; c++) for (let o = 0; o < n; o++) if (hits[c]) sums[c * n + o]! /= hits[c]!;
  return sums;
}

/** Draws the grey image scaled to the canvas, pixels kept square and crisp. */
export function drawGrey(canvas: HTMLCanvasElement, image: GreyImage): void {
  const ctx = canvas.getContext('2d')!;
  const pixels = new ImageData(image.width, image.height);
  for (let i = 0; i < image.data.length; i++) {
    const v = Math.round(image.data[i]! * 255);
    pixels.data.set([v, v, v, 255], i * 4);
  }
  const source = document.createElement('canvas');
  source.width = image.width;
  source.height = image.height;
  source.getContext('2d')!.putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
}

/**
 * HOG glyphs: in each cell a line per orientation bin, along the edge (perpendicular to the
 * gradient) and as long as the bin's share, as scikit-image's `visualize` draws them.
 */
export function drawHogGlyphs(canvas: HTMLCanvasElement, cells: Float32Array, height: number, width: number, spec: FeatureSpec): void {
  const ctx = canvas.getContext('2d')!;
  const g = hogGeometry(height, width, spec);
  const n = spec.orientations;
  const sx = canvas.width / width;
  const sy = canvas.height / height;
  const max = Math.max(1e-12, ...cells);
  ctx.lineCap = 'round';
  ctx.strokeStyle = '#ffb703';
  for (let cy = 0; cy < g.cellsY; cy++) {
    for (let cx = 0; cx < g.cellsX; cx++) {
      const x0 = (cx + 0.5) * spec.pixelsPerCell * sx;
      const y0 = (cy + 0.5) * spec.pixelsPerCell * sy;
      const r = (spec.pixelsPerCell * Math.min(sx, sy)) / 2;
      for (let o = 0; o < n; o++) {
        const v = cells[(cy * g.cellsX + cx) * n + o]! / max;
        if (v < 0.02) continue;
        const edge = (((o + 0.5) * 180) / n + 90) * (Math.PI / 180);
        const dx = Math.cos(edge) * r * v;
        const dy = Math.sin(edge) * r * v;
        ctx.globalAlpha = 0.35 + 0.65 * v;
        ctx.lineWidth = Math.max(1, r / 6);
        ctx.beginPath();
        ctx.moveTo(x0 - dx, y0 - dy);
        ctx.lineTo(x0 + dx, y0 + dy);
        ctx.stroke();
      }
    }
  }
  ctx.globalAlpha = 1;
}

// Viridis, sampled at five stops.
const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
] as const;

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

/** The co-occurrence matrix as a heat map, on a log scale so that off-diagonal structure shows. */
export function drawHeatmap(canvas: HTMLCanvasElement, matrix: Float32Array, levels: number): void {
  const ctx = canvas.getContext('2d')!;
  const pixels = new ImageData(levels, levels);
  const max = Math.max(1e-12, ...matrix);
  const scale = 1 / Math.log1p(1000);
  for (let i = 0; i < matrix.length; i++) {
    const [r, g, b] = viridis(Math.log1p((1000 * matrix[i]!) / max) * scale);
    pixels.data.set([r, g, b, 255], i * 4);
  }
  const source = document.createElement('canvas');
  source.width = levels;
  source.height = levels;
  source.getContext('2d')!.putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
}

/** An LBP code map: each pixel's code on the viridis scale (0 to the largest code of the method). */
export function drawCodeMap(canvas: HTMLCanvasElement, codes: Int32Array, width: number, height: number, maxCode: number): void {
  const ctx = canvas.getContext('2d')!;
  const pixels = new ImageData(width, height);
  for (let i = 0; i < codes.length; i++) {
    const [r, g, b] = viridis(codes[i]! / Math.max(1, maxCode));
    pixels.data.set([r, g, b, 255], i * 4);
  }
  const source = document.createElement('canvas');
  source.width = width;
  source.height = height;
  source.getContext('2d')!.putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
}
