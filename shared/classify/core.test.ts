import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64ToFloat64, decodeBase64, encodeBase64, float64ToBase64 } from './base64.ts';
import { stratifiedFolds } from './cv.ts';
import { checkTrainingClasses, countLabels, duplicateWarnings, findDuplicates, sortLabels } from './dataset.ts';
import { crossProduct, dot, gramMatrix, matrix, setProductBackend } from './linalg.ts';
import { canonicalJson } from './model.ts';
import { createRng } from './prng.ts';
import { fitScaler, transform } from './scaler.ts';
import { sha256Hex } from './sha256.ts';

const random = (n: number, seed: number) => {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => rng.next() * 2 - 1);
};

describe('SHA-256 and base64', () => {
  it('match node:crypto and Buffer on many lengths', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 1000, 100_003]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 255);
      expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(decodeBase64(encodeBase64(bytes)))).toEqual(Array.from(bytes));
    }
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('float64 arrays come back with the same bits', () => {
    const v = Float64Array.from([0, -0, 1 / 3, Math.PI, 1e-310, -1.7976931348623157e308, 5e-324]);
    const back = base64ToFloat64(float64ToBase64(v));
    v.forEach((x, i) => expect(Object.is(back[i], x)).toBe(true));
  });

  it('refuses malformed base64', () => {
    expect(() => decodeBase64('abc')).toThrow(/multiple of 4/);
    expect(() => decodeBase64('ab!d')).toThrow(/bad character/);
  });
});

describe('dot products', () => {
  it('the WebAssembly kernel and plain JavaScript give the same bits', () => {
    for (const [m, n, d] of [
      [7, 9, 13],
      [1, 1, 1],
      [33, 70, 150],
      [5, 4, 2],
    ] as const) {
      const A = matrix(m, d, random(m * d, m));
      const B = matrix(n, d, random(n * d, n + 100));
      const wasm = crossProduct(A, B);
      const gram = gramMatrix(B);
      setProductBackend('js');
      try {
        expect(Array.from(crossProduct(A, B))).toEqual(Array.from(wasm));
        expect(Array.from(gramMatrix(B))).toEqual(Array.from(gram));
      } finally {
        setProductBackend('auto');
      }
      expect(wasm[0]).toBe(dot(A.data, 0, B.data, 0, d));
      expect(gram[1]).toBe(gram[n]);
    }
  });
});

describe('scaler', () => {
  it('is scikit-learn StandardScaler: population std, constant features kept at scale 1', () => {
    const X = matrix(4, 2, Float64Array.from([1, 5, 2, 5, 3, 5, 4, 5]));
    const s = fitScaler(X);
    expect(Array.from(s.mean)).toEqual([2.5, 5]);
    expect(s.scale[0]).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(s.scale[1]).toBe(1);
    expect(Array.from(transform(s, X).data.filter((_, i) => i % 2 === 1))).toEqual([0, 0, 0, 0]);
  });
});

describe('folds and PRNG', () => {
  it('are repeatable for a seed and keep class proportions', () => {
    expect(createRng(5).next()).toBe(createRng(5).next());
    expect(createRng(5).next()).not.toBe(createRng(6).next());
    const y = Int32Array.from({ length: 103 }, (_, i) => (i < 80 ? 0 : i < 100 ? 1 : 2));
    const folds = stratifiedFolds(y, 3, 5, 1);
    expect(folds.map((f) => Array.from(f.test))).toEqual(stratifiedFolds(y, 3, 5, 1).map((f) => Array.from(f.test)));
    const seen = new Set<number>();
    for (const f of folds) {
      expect(f.train.length + f.test.length).toBe(103);
      expect(Array.from(f.test).filter((i) => y[i] === 0)).toHaveLength(16);
      expect(Array.from(f.test).filter((i) => y[i] === 1)).toHaveLength(4);
      f.test.forEach((i) => seen.add(i));
    }
    expect(seen.size).toBe(103);
  });
});

describe('dataset checks', () => {
  it('orders labels numerically when they are numbers', () => {
    expect(sortLabels(['10', '2', '1'])).toEqual(['1', '2', '10']);
    expect(sortLabels(['normal', 'benign', 'malignant'])).toEqual(['benign', 'malignant', 'normal']);
  });

  it('refuses an empty class or a single class', () => {
    expect(() => checkTrainingClasses(countLabels(['a', 'a'], ['a', 'b']), 'x')).toThrow(/class 'b' has no usable images/);
    expect(() => checkTrainingClasses(countLabels(['a'], ['a']), 'x')).toThrow(/only one class/);
    expect(() => checkTrainingClasses(countLabels(['a', 'b'], ['a', 'b']), 'x')).not.toThrow();
  });

  it('finds duplicates, across splits and with conflicting labels', () => {
    const report = findDuplicates([
      { name: 'train/0/115.png', split: 'train', label: '0', hash: 'h1' },
      { name: 'test/1/76.png', split: 'test', label: '1', hash: 'h1' },
      { name: 'train/1/3.png', split: 'train', label: '1', hash: 'h2' },
      { name: 'train/1/4.png', split: 'train', label: '1', hash: 'h2' },
      { name: 'train/1/5.png', split: 'train', label: '1', hash: 'h3' },
    ]);
    expect(report.groups).toHaveLength(2);
    expect(report.labelConflicts.map((g) => g.map((i) => i.name))).toEqual([['train/0/115.png', 'test/1/76.png']]);
    expect(report.crossSplit).toHaveLength(1);
    const text = duplicateWarnings(report).join('\n');
    expect(text).toContain('train/0/115.png (label 0) = test/1/76.png (label 1)');
    expect(text).toContain('train/1/3.png (label 1) = train/1/4.png (label 1)');
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }], e: 'x' })).toBe('{"a":[{"c":null,"d":2}],"b":1,"e":"x"}');
  });
});
