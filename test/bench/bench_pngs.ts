/**
 * The image sets of the benchmarks: real BreastMNIST and RetinaMNIST images (28x28),
 * interleaved, and the 3,000 64x64 PNGs of the whole-command rows, made from them by
 * bilinear resizing (grey stays grey, colour stays colour) so that both sides read the
 * same files.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { decodeImage } from '../../shared/image/index.ts';
import { resizeBilinear } from '../../shared/features/resize.ts';
import { splitImages } from '../golden.ts';

export function realImageFiles(count: number): string[] {
  const files: string[] = [];
  for (const set of ['breastmnist', 'retinamnist'] as const) {
    for (const split of ['train', 'val', 'test']) files.push(...splitImages(set, split));
  }
  files.sort();
  // interleave the two sets so any prefix holds both
  const a = files.filter((f) => f.includes('breastmnist'));
  const b = files.filter((f) => f.includes('retinamnist'));
  const mixed: string[] = [];
  for (let i = 0; mixed.length < count; i++) mixed.push(a[i % a.length]!, b[i % b.length]!);
  return mixed.slice(0, count);
}

/** Writes `count` PNGs of `size x size` into `folder` (made here); 0 copies the 28x28 originals. */
export function writeBenchPngs(folder: string, count: number, size: number): void {
  mkdirSync(folder, { recursive: true });
  realImageFiles(count).forEach((f, i) => {
    const name = join(folder, `${String(i).padStart(5, '0')}.png`);
    if (size === 0) return copyFileSync(f, name);
    const img = decodeImage(new Uint8Array(readFileSync(f)));
    const channels = img.colour ? 3 : 1;
    const data = new Uint8Array(size * size * channels);
    if (img.colour) {
      const { samples, channels: c, maxValue } = img.colour;
      for (let k = 0; k < 3; k++) {
        const plane = new Float32Array(img.width * img.height);
        for (let p = 0; p < plane.length; p++) plane[p] = samples[p * c + k]! / maxValue;
        const r = resizeBilinear({ width: img.width, height: img.height, data: plane }, size);
        for (let p = 0; p < r.length; p++) data[p * 3 + k] = Math.round(r[p]! * 255);
      }
    } else {
      const r = resizeBilinear(img, size);
      for (let p = 0; p < r.length; p++) data[p] = Math.round(r[p]! * 255);
    }
    writeFileSync(name, encode({ width: size, height: size, data, channels, depth: 8 }));
  });
}
