import { describe, expect, it } from 'vitest';
import { createRng } from '../prng.ts';
import { betaSample, DEFAULT_CNN_SETTINGS, epochsFor, groupRanges, groupsFor, learningRateAt } from './train_cnn.ts';

describe('epochs by the size of the set (the step cap)', () => {
  it('keeps the epochs of small sets and caps large ones at the steps, never under one epoch', () => {
    expect(DEFAULT_CNN_SETTINGS.maxSteps).toBe(600);
    // BreastMNIST train (546 images, 9 batches of 64) and RetinaMNIST (1,080: 17): all 30 epochs
    expect(epochsFor({ epochs: 30 }, 9)).toBe(30);
    expect(epochsFor({ epochs: 30 }, 17)).toBe(30);
    // 5,000 images: 79 batches, 8 epochs (632 steps)
    expect(epochsFor({ epochs: 30 }, 79)).toBe(8);
    expect(epochsFor({ epochs: 5 }, 79)).toBe(5);
    expect(epochsFor({ epochs: 30, maxSteps: null }, 79)).toBe(30);
    expect(epochsFor({ epochs: 30, maxSteps: 100 }, 1000)).toBe(1);
  });

  it('ends the learning-rate schedule at the last step of the epochs run', () => {
    const perEpoch = 79;
    const epochs = epochsFor({ epochs: 30 }, perEpoch);
    expect(learningRateAt(0, perEpoch, epochs, 1)).toBeCloseTo(1 / perEpoch);
    expect(learningRateAt(perEpoch - 1, perEpoch, epochs, 1)).toBeCloseTo(1);
    expect(learningRateAt(perEpoch * epochs - 1, perEpoch, epochs, 1)).toBeLessThan(1e-3);
  });
});

describe('groups of a batch', () => {
  it('are two for large sets, one for small ones, unless set; near-equal, the empty left out', () => {
    expect(groupsFor({}, 546)).toBe(1);
    expect(groupsFor({}, 5000)).toBe(2);
    expect(groupsFor({ groups: 1 }, 5000)).toBe(1);
    expect(groupsFor({ groups: 2 }, 80)).toBe(2);
    expect(groupRanges(64, 2)).toEqual([
      [0, 32],
      [32, 64],
    ]);
    expect(groupRanges(9, 2)).toEqual([
      [0, 5],
      [5, 9],
    ]);
    expect(groupRanges(1, 2)).toEqual([[0, 1]]);
    expect(groupRanges(7, 1)).toEqual([[0, 7]]);
  });
});

describe("mixup's Beta(alpha, alpha) draws", () => {
  it('lie in [0, 1] with mean one half and the variance of the Beta law, the same for a seed', () => {
    for (const alpha of [0.2, 1, 2]) {
      const rng = createRng(3);
      const v = Array.from({ length: 20_000 }, () => betaSample(rng, alpha));
      expect(v.every((x) => x >= 0 && x <= 1)).toBe(true);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
      // Beta(a, a): 1 / (4 (2a + 1))
      expect(Math.abs(variance - 1 / (4 * (2 * alpha + 1)))).toBeLessThan(0.01);
      expect(betaSample(createRng(3), alpha)).toBe(v[0]);
    }
  });
});
