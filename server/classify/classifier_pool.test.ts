import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countLabels } from '../../shared/classify/dataset.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { buildModelDocument, parseModel, serializeModel, trainingContentHash, type LoadedModel } from '../../shared/classify/model.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { DEFAULT_SETTINGS, trainModel } from '../../shared/classify/train.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { vectorLength } from '../../shared/features/spec.ts';
import { DEFAULT_DECODE_LIMITS } from '../../shared/image/index.ts';
import { SqliteStore } from '../store/sqlite.store.ts';
import { ClassifierPool, packImages } from './classifier_pool.ts';
import { classifyImages, type WireImage } from '../../shared/classify/classify_images.ts';

const SPEC = parseFeatureSpec({ size: 0, levels: 32 });
const SIZE = { width: 28, height: 28 };
const d = vectorLength(SPEC, SIZE.height, SIZE.width);

let dir: string;
let store: SqliteStore;
let pool: ClassifierPool;
let model: LoadedModel;
const rng = createRng(3);
const vector = (c: number) => Float64Array.from({ length: d }, (_, j) => rng.next() + (j % 7 === c ? 0.8 : 0));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-pool-'));
  const n = 60;
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  const X = matrix(n, d);
  y.forEach((c, i) => X.data.set(vector(c), i * d));
  const labels = ['a', 'b'];
  const outcome = trainModel({ labels, train: { X, y } }, { ...DEFAULT_SETTINGS, folds: 3, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
  const doc = buildModelDocument({
    spec: SPEC,
    labels,
    featureLength: d,
    imageSize: SIZE,
    outcome,
    training: { size: n, counts: countLabels(Array.from(y, (c) => labels[c]!), labels), contentHash: trainingContentHash(X, y, labels), seed: 1 },
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  const text = serializeModel(doc);
  model = parseModel(text);
  store = new SqliteStore(join(dir, 'medclass.db'));
  await store.publish({ service: 'demo', description: 'test', privacyModes: ['features', 'reduced'], model: text, createdBy: 'test' });
  pool = new ClassifierPool(store, DEFAULT_DECODE_LIMITS, 2);
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const features = (v: Float64Array): WireImage => ({ mode: 'features', vector: v });

describe('ClassifierPool', () => {
  it('packs a batch into one fresh buffer, leaving the requests\' arrays alone', () => {
    const shared = new ArrayBuffer(64 + 3 * 8 + 4 * 4);
    const images: WireImage[] = [
      { mode: 'original', data: new Uint8Array(shared, 0, 13) },
      features(new Float64Array(shared, 64, 3).fill(1.5)),
      { mode: 'reduced', width: 2, height: 2, pixels: new Float32Array(shared, 88, 4).fill(0.25) },
    ];
    new Uint8Array(shared, 0, 13).fill(7);
    const packed = packImages(images);
    expect(packed.buffer).not.toBe(shared);
    expect(packed.buffer.byteLength).toBe(16 + 24 + 16);
    expect(packed.images.map((i) => (i.mode === 'original' ? Array.from(i.data) : i.mode === 'features' ? Array.from(i.vector) : Array.from(i.pixels)))).toEqual([
      new Array(13).fill(7),
      [1.5, 1.5, 1.5],
      [0.25, 0.25, 0.25, 0.25],
    ]);
    for (const i of packed.images) expect((i.mode === 'original' ? i.data : i.mode === 'features' ? i.vector : i.pixels).buffer).toBe(packed.buffer);
  });

  it('batches concurrent requests and gives each its own outcomes, in order, as one request alone would', async () => {
    const requests = Array.from({ length: 80 }, (_, r) =>
      Array.from({ length: 1 + (r % 3) }, (_, i) => (r % 11 === 5 && i === 0 ? features(new Float64Array(d - 1)) : features(vector((r + i) % 2)))),
    );
    const expected = await Promise.all(requests.map((images) => classifyImages(model, images, DEFAULT_DECODE_LIMITS)));
    const tasks = () => (pool as unknown as { pool: { completed: number } }).pool.completed;
    const before = tasks();
    const got = await Promise.all(requests.map((images) => pool.classify('demo', 1, images)));
    // 160 images in batches of up to 32 (a batch is also sent when a worker is free)
    expect(tasks() - before).toBeLessThan(20);
    expect(tasks() - before).toBeGreaterThanOrEqual(5);
    expect(got.length).toBe(requests.length);
    got.forEach((outcomes, r) => {
      expect(outcomes.length).toBe(requests[r]!.length);
      outcomes.forEach((o, i) => {
        const e = expected[r]![i]!;
        if (!e.ok) return expect(o).toEqual(e);
        expect(o.ok && o.label).toBe(e.label);
        expect(o.ok && o.scores).toEqual(e.scores);
      });
    });
    // the requests' own arrays were copied, not moved away
    expect(requests.every((images) => images.every((i) => i.mode === 'features' && i.vector.byteLength > 0))).toBe(true);
  });

  it('keeps one request\'s failure from the others of its batch', async () => {
    const good = Array.from({ length: 6 }, (_, r) => pool.classify('demo', 1, [features(vector(r % 2))]));
    const bad = pool.classify('demo', 1, [{ mode: 'features' } as unknown as WireImage]);
    const missing = pool.classify('demo', 9, [features(vector(0))]);
    await expect(bad).rejects.toThrow();
    await expect(missing).rejects.toThrow(/no model demo@9/);
    for (const outcomes of await Promise.all(good)) expect(outcomes[0]!.ok).toBe(true);
  });

  it('reads each model version from the store once, in this thread: the workers get the document from the pool', async () => {
    const reads: string[] = [];
    const counting = new Proxy(store, {
      get: (target, key) =>
        key === 'model'
          ? (service: string, version?: number) => {
              reads.push(`${service}@${version}`);
              return target.model(service, version);
            }
          : (Reflect.get(target, key) as unknown as { bind(t: unknown): unknown }).bind(target),
    });
    const own = new ClassifierPool(counting, DEFAULT_DECODE_LIMITS, 2, { maxImages: 1 });
    try {
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => own.classify('demo', 1, [features(vector(i % 2))])));
      expect(outcomes.every((o) => o[0]!.ok)).toBe(true);
      expect((await own.describe('demo', 1))?.labels).toEqual(['a', 'b']);
      expect(await own.describe('demo', 7)).toBeUndefined();
      // one read for version 1 (12 tasks on 2 workers and a describe), one for the missing version
      expect(reads).toEqual(['demo@1', 'demo@7']);
    } finally {
      await own.close();
    }
  });

  it('shares the workers between users in turn: one user\'s backlog does not hold another\'s request', async () => {
    const fair = new ClassifierPool(store, DEFAULT_DECODE_LIMITS, 1, { maxImages: 1 });
    try {
      const done: string[] = [];
      const greedy = Array.from({ length: 12 }, (_, i) => fair.classify('demo', 1, [features(vector(i % 2))], 'greedy').then(() => done.push('greedy')));
      const other = fair.classify('demo', 1, [features(vector(0))], 'other').then(() => done.push('other'));
      await Promise.all([...greedy, other]);
      // first come first served would put it last (13th); in turn it is second
      expect(done.indexOf('other')).toBeLessThanOrEqual(1);
    } finally {
      await fair.close();
    }
  });
});
