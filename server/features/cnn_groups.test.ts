import { memory } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { NO_AUGMENT } from '../../shared/classify/cnn/augment.ts';
import { defaultArchitecture } from '../../shared/classify/cnn/network.ts';
import { DEFAULT_CNN_SETTINGS, trainCnn, type GroupRunner } from '../../shared/classify/cnn/train_cnn.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { useCnnBackend } from './backend.ts';
import { cnnGroupThreads } from './cnn_groups.ts';

describe('CNN training with the second group of each batch on a worker thread', () => {
  it('gives the same model, bit for bit, as computing both groups on this thread', { timeout: 600_000 }, async () => {
    await useCnnBackend();
    const a = defaultArchitecture(28, 1, 2, [4, 8]);
    const rng = createRng(5);
    const n = 80; // a last batch of 16: groups of 8
    const x = Float32Array.from({ length: n * 784 }, () => rng.next());
    const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % 2);
    const val = { x: x.slice(0, 16 * 784), y: y.slice(0, 16) };
    const settings = { ...DEFAULT_CNN_SETTINGS, groups: 2, epochs: 2, augment: { ...NO_AUGMENT, shift: 0.1, rotation: 5 }, classWeight: null, budgetMs: null };
    const tensorsBefore = memory().numTensors;
    const here = await trainCnn(a, { x, y }, val, settings);
    expect(memory().numTensors).toBe(tensorsBefore);
    const threads = (await cnnGroupThreads(2))!;
    let tasks = 0;
    const counted: GroupRunner = { run: (t) => (tasks++, threads.run(t)) };
    try {
      const there = await trainCnn(a, { x, y }, val, settings, { groupRunner: counted });
      expect(tasks).toBe(4); // two epochs of two batches, one group each on the worker
      expect([...there.weights.keys()]).toEqual([...here.weights.keys()]);
      for (const [name, w] of here.weights) expect(Array.from(there.weights.get(name)!), name).toEqual(Array.from(w));
      expect(there.history.map((h) => h.loss)).toEqual(here.history.map((h) => h.loss));
      expect(memory().numTensors).toBe(tensorsBefore);
    } finally {
      await threads.close();
    }
  });

  it('the same with two blocks a stage, mixup and label smoothing (soft targets sent with each group)', { timeout: 600_000 }, async () => {
    await useCnnBackend();
    const a = defaultArchitecture(28, 1, 2, [4, 8], 2);
    const rng = createRng(6);
    const n = 80;
    const x = Float32Array.from({ length: n * 784 }, () => rng.next());
    const y = Int32Array.from({ length: n }, (_, i) => (i * 5) % 2);
    const val = { x: x.slice(0, 16 * 784), y: y.slice(0, 16) };
    const settings = { ...DEFAULT_CNN_SETTINGS, groups: 2, epochs: 2, augment: NO_AUGMENT, classWeight: 'balanced' as const, budgetMs: null, mixup: 0.4, labelSmoothing: 0.1 };
    const here = await trainCnn(a, { x, y }, val, settings);
    const plain = await trainCnn(a, { x, y }, val, { ...settings, mixup: 0, labelSmoothing: 0 });
    expect(Array.from(plain.weights.get('dense/kernel')!)).not.toEqual(Array.from(here.weights.get('dense/kernel')!));
    const threads = (await cnnGroupThreads(2))!;
    try {
      const there = await trainCnn(a, { x, y }, val, settings, { groupRunner: threads });
      for (const [name, w] of here.weights) expect(Array.from(there.weights.get(name)!), name).toEqual(Array.from(w));
      expect(there.history.map((h) => h.loss)).toEqual(here.history.map((h) => h.loss));
    } finally {
      await threads.close();
    }
  });
});
