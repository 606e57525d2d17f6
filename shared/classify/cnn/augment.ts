import type { Rng } from '../prng.ts';

/** Random geometry per training image: fits medical images (small moves, no shearing). */
export interface AugmentSettings {
  /** Largest shift, as a fraction of the side. */
  shift: number;
  /** Largest rotation, in degrees. */
  rotation: number;
  /** Largest relative change of scale. */
  scale: number;
  /** Mirror left-right half the time: only where the data allows it (not for lateralised images). */
  flip: boolean;
}

export const DEFAULT_AUGMENT: Readonly<AugmentSettings> = Object.freeze({ shift: 0.08, rotation: 10, scale: 0.08, flip: true });
export const NO_AUGMENT: Readonly<AugmentSettings> = Object.freeze({ shift: 0, rotation: 0, scale: 0, flip: false });

/**
 * One image [size, size, channels] (NHWC, interleaved) moved by a random similarity around
 * its centre, sampled bilinearly with the edge pixels repeated outside. Draws five numbers
 * from `rng` whatever the settings, so that switching flips off does not change the others.
 */
export function augmentImage(src: Float32Array, size: number, channels: number, a: AugmentSettings, rng: Rng, out: Float32Array): void {
  const angle = (2 * rng.next() - 1) * a.rotation * (Math.PI / 180);
  const scale = 1 + (2 * rng.next() - 1) * a.scale;
  const dx = (2 * rng.next() - 1) * a.shift * size;
  const dy = (2 * rng.next() - 1) * a.shift * size;
  const flip = rng.next() < 0.5 && a.flip;
  const c = (size - 1) / 2;
  // output -> source: inverse rotation and scale about the centre, then the shift
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const last = size - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const ox = (flip ? last - x : x) - c - dx;
      const oy = y - c - dy;
      let sx = cos * ox + sin * oy + c;
      let sy = -sin * ox + cos * oy + c;
      sx = sx < 0 ? 0 : sx > last ? last : sx;
      sy = sy < 0 ? 0 : sy > last ? last : sy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = x0 < last ? x0 + 1 : x0;
      const y1 = y0 < last ? y0 + 1 : y0;
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * size + x) * channels;
      for (let ch = 0; ch < channels; ch++) {
        const tl = src[(y0 * size + x0) * channels + ch]!;
        const tr = src[(y0 * size + x1) * channels + ch]!;
        const bl = src[(y1 * size + x0) * channels + ch]!;
        const br = src[(y1 * size + x1) * channels + ch]!;
        const t = tl + (tr - tl) * fx;
        const b = bl + (br - bl) * fx;
        out[o + ch] = t + (b - t) * fy;
      }
    }
  }
}
