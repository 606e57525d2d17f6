import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitImages } from '../../test/golden.ts';
import { decodeImage } from './decoder.ts';
import { GreyArena } from './grey_arena.ts';
import './index.ts';

describe('grey buffers of a batch', () => {
  it('decodes PNGs into the arena with the same pixels as into their own arrays, none sharing a pixel', () => {
    const files = [...splitImages('breastmnist', 'test', 40), ...splitImages('retinamnist', 'test', 40)].map((f) => new Uint8Array(readFileSync(f)));
    const own = files.map((bytes) => decodeImage(bytes));
    const arena = new GreyArena();
    // two batches: the second reuses the first's blocks after its release
    for (let batch = 0; batch < 2; batch++) {
      const shared = files.map((bytes) => decodeImage(bytes, undefined, arena));
      shared.forEach((img, i) => expect(Array.from(img.data), `image ${i}`).toEqual(Array.from(own[i]!.data)));
      // 80 images of 28x28 fit one block: each its own range of it
      const ranges = shared.map((img) => [img.data.byteOffset, img.data.byteOffset + img.data.byteLength] as const).sort((a, b) => a[0] - b[0]);
      expect(new Set(shared.map((img) => img.data.buffer)).size).toBe(1);
      ranges.slice(1).forEach(([start], i) => expect(start).toBeGreaterThanOrEqual(ranges[i]![1]));
      arena.release();
    }
  });

  it('hands out zeroed buffers after a release, and an image larger than a block an array of its own', () => {
    const first = new GreyArena();
    first.grey(1000).fill(0.5);
    first.release();
    const second = new GreyArena();
    const again = second.grey(1000);
    expect(again.every((v) => v === 0)).toBe(true);
    const large = second.grey(1 << 20);
    expect(large.buffer).not.toBe(again.buffer);
    expect(large.length).toBe(1 << 20);
  });
});
