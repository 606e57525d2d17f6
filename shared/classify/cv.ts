import { createRng } from './prng.ts';

/** One split of the samples: fit on `train`, score on `test` (indices into one matrix). */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

/**
 * Stratified k-fold: each class's samples are shuffled (seeded) and cut into k nearly equal
 * runs, fold f taking run f of every class, so every fold keeps the class proportions.
 * A class smaller than k is simply absent from some folds.
 */
export function stratifiedFolds(y: ArrayLike<number>, nClasses: number, k: number, seed: number): Split[] {
  const rng = createRng(seed);
  const byClass: number[][] = Array.from({ length: nClasses }, () => []);
  for (let i = 0; i < y.length; i++) byClass[y[i]!]!.push(i);
  const foldOf = new Int32Array(y.length);
  for (const members of byClass) {
    for (let i = 0; i < members.length; i++) {
      const j = i + rng.int(members.length - i);
      const t = members[i]!;
      members[i] = members[j]!;
      members[j] = t;
    }
    for (let f = 0; f < k; f++) {
      const begin = Math.floor((f * members.length) / k);
      const end = Math.floor(((f + 1) * members.length) / k);
      for (let t = begin; t < end; t++) foldOf[members[t]!] = f;
    }
  }
  const splits: Split[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < y.length; i++) (foldOf[i] === f ? test : train).push(i);
    splits.push({ train: Int32Array.from(train), test: Int32Array.from(test) });
  }
  return splits;
}
