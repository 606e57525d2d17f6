/**
 * shared/classify in a browser (the `browser` vitest project): the WebAssembly kernel
 * compiles on the main thread and gives the bits plain JavaScript gives, and a model
 * trained here survives its file and predicts the same, with no Node built-in in sight.
 */
import { describe, expect, it } from 'vitest';
import { predict } from './classifier.ts';
import { assemble, wasmCross } from './gemm_wasm.ts';
import { evaluateKnn, screenStats } from './knn.ts';
import { crossProduct, matrix, setProductBackend } from './linalg.ts';
import { buildModelDocument, parseModel, serializeModel, trainingContentHash } from './model.ts';
import { createRng } from './prng.ts';
import { DEFAULT_SETTINGS, trainModel } from './train.ts';
import { parseFeatureSpec } from '../features/spec.schema.ts';

describe('classify in the browser', () => {
  it('runs the SIMD kernel, identical to JavaScript', () => {
    expect(assemble().length).toBeLessThan(4096);
    expect(wasmCross()).not.toBeNull();
    const rng = createRng(2);
    const A = matrix(9, 31, Float64Array.from({ length: 9 * 31 }, () => rng.next()));
    const B = matrix(6, 31, Float64Array.from({ length: 6 * 31 }, () => rng.next()));
    const simd = crossProduct(A, B);
    setProductBackend('js');
    try {
      expect(Array.from(crossProduct(A, B))).toEqual(Array.from(simd));
    } finally {
      setProductBackend('auto');
    }
  });

  it("runs KNN's int16 screen, the same votes as exact float64 distances", () => {
    const rng = createRng(8);
    const [n, m, d] = [200, 40, 300];
    const samples = matrix(n, d, Float64Array.from({ length: n * d }, () => rng.next() * 2 - 1));
    const X = matrix(m, d, Float64Array.from({ length: m * d }, () => rng.next() * 2 - 1));
    const model = { k: 5, metric: 'euclidean' as const, weights: 'distance' as const, nClasses: 3, samples, targets: Int32Array.from({ length: n }, (_, i) => i % 3) };
    Object.assign(screenStats, { rows: 0, candidates: 0 });
    const screened = evaluateKnn(model, X);
    expect(screenStats.rows).toBe(m);
    expect(Array.from(screened.scores)).toEqual(Array.from(evaluateKnn(model, X, false).scores));
  });

  it('trains, saves and reloads an SVM', () => {
    const rng = createRng(4);
    const n = 60;
    const d = 150;
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    const X = matrix(n, d, Float64Array.from({ length: n * d }, (_, i) => rng.next() + y[Math.floor(i / d)]! * 0.3));
    const labels = ['a', 'b', 'c'];
    const outcome = trainModel({ labels, train: { X, y } }, { ...DEFAULT_SETTINGS, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
    expect(outcome.estimate.metrics.accuracy).toBeGreaterThan(0.6);
    const doc = buildModelDocument({
      spec: parseFeatureSpec({ size: 28 }),
      labels,
      featureLength: d,
      imageSize: null,
      outcome,
      training: { size: n, counts: { a: 20, b: 20, c: 20 }, contentHash: trainingContentHash(X, y, labels), seed: 1 },
      createdAt: new Date(0),
    });
    const loaded = parseModel(serializeModel(doc));
    expect(Array.from(predict(loaded.predictor, X).probabilities!)).toEqual(Array.from(predict(outcome.predictor, X).probabilities!));
  });
});
