import { describe, expect, it } from 'vitest';
import { mixedSizes } from './image_sizes.ts';

const CHOICES = [0, 28, 32, 48, 64, 100, 128, 256];
const many = (n: number, width: number, height = width) => Array.from({ length: n }, () => ({ width, height }));

describe('mixedSizes', () => {
  it('says nothing when all images have one size, or none was decoded', () => {
    expect(mixedSizes(many(5, 28), CHOICES)).toBeNull();
    expect(mixedSizes([], CHOICES)).toBeNull();
  });

  it('lists the sizes, most common first, and offers the choice nearest the most common', () => {
    const r = mixedSizes([...many(2, 28), ...many(5, 64), ...many(1, 60, 80), ...many(1, 300)], CHOICES)!;
    expect(r.message).toBe('These images have 4 different sizes (64×64, 28×28, 60×80, …).');
    expect(r.sizes.map((s) => s.count)).toEqual([5, 2, 1, 1]);
    expect(r.suggested).toBe(64);
    expect(mixedSizes([...many(3, 90, 120), ...many(1, 28)], CHOICES)!.suggested).toBe(128);
  });
});
