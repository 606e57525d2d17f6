import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount } from './format.ts';

describe('numbers in messages', () => {
  it('groups digits and writes sizes in decimal units, the same everywhere', () => {
    expect(formatCount(40_000_000)).toBe('40,000,000');
    expect(formatCount(1770)).toBe('1,770');
    expect(formatCount(0.5)).toBe('0.5');
    expect([0, 1, 999, 1000, 1500, 922_878, 40_000_000, 41_943_040, 3e9].map(formatBytes)).toEqual([
      '0 bytes',
      '1 byte',
      '999 bytes',
      '1 kB',
      '1.5 kB',
      '922.9 kB',
      '40 MB',
      '41.9 MB',
      '3 GB',
    ]);
  });
});
