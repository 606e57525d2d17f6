/**
 * A service whose spec has the new families, colour among them, takes the same image in
 * every privacy mode: the original file, the reduced pixels with their colour planes
 * (channels 3, as the clients make them) and the client's feature vector give the same
 * scores, bit for bit; what lacks colour is refused in words.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { reducedData } from '../../shared/client/reduced.ts';
import { countLabels } from '../../shared/classify/dataset.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import { buildModelDocument, parseModel, serializeModel, trainingContentHash, type LoadedModel } from '../../shared/classify/model.ts';
import { createRng } from '../../shared/classify/prng.ts';
import { DEFAULT_SETTINGS, trainModel } from '../../shared/classify/train.ts';
import { extractBatch, featureVector, prepareImage } from '../../shared/features/extract.ts';
import { parseFeatureSpec } from '../../shared/features/spec.schema.ts';
import { vectorLength } from '../../shared/features/spec.ts';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../../shared/image/index.ts';
import { imageSchema, unpackFloat32 } from '../../shared/protocol/messages.ts';
import { dataset } from '../../test/golden.ts';
import { useCpuBackend } from '../features/backend.ts';
import { packImages } from './classifier_pool.ts';
import { classifyImages, type WireImage } from '../../shared/classify/classify_images.ts';

const SPEC = parseFeatureSpec({ size: 32, pixelsPerCell: 8, features: ['hog2', 'lbp', 'glcmAngles', 'intensityMoments', 'colourHistogram', 'colourMoments'], pixelsPerCell2: 16, histogramBins: 16 });
const d = vectorLength(SPEC, 32, 32);
const first = (set: 'retinamnist' | 'breastmnist', label: string) => {
  const dir = join(dataset(set), 'test', label);
  return new Uint8Array(readFileSync(join(dir, readdirSync(dir).sort()[0]!)));
};

let model: LoadedModel;
beforeAll(async () => {
  await useCpuBackend();
  const rng = createRng(5);
  const n = 40;
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  const X = matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X.data[i * d + j] = rng.next() + (j % 5 === y[i] ? 0.5 : 0);
  const labels = ['a', 'b'];
  const outcome = trainModel({ labels, train: { X, y } }, { ...DEFAULT_SETTINGS, folds: 3, params: { type: 'svm', kernel: 'rbf', C: 1, gamma: { scale: 1 } } });
  const doc = buildModelDocument({
    spec: SPEC,
    labels,
    featureLength: d,
    imageSize: null,
    outcome,
    training: { size: n, counts: countLabels(Array.from(y, (c) => labels[c]!), labels), contentHash: trainingContentHash(X, y, labels), seed: 1 },
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
  model = parseModel(serializeModel(doc));
}, 60_000);

describe('a service with colour features, in every privacy mode', () => {
  it('scores the original, the reduced pixels with channels 3 and the client features identically', async () => {
    const bytes = first('retinamnist', '2');
    const prepared = prepareImage(decodeImage(bytes), model.spec);
    const data = reducedData(prepared);
    expect(data.channels).toBe(3);
    // what the channel's schema takes, and what the connection makes of it
    const parsed = imageSchema.parse({ mode: 'reduced', data });
    if (parsed.mode !== 'reduced') throw new Error('not reduced');
    const reduced: WireImage = { mode: 'reduced', width: parsed.data.width, height: parsed.data.height, channels: parsed.data.channels ?? 1, pixels: unpackFloat32(parsed.data.pixels) };
    const [values] = await extractBatch([prepared], model.spec);
    const features: WireImage = { mode: 'features', vector: featureVector(values!, model.spec, prepared.height, prepared.width) };
    const { images } = packImages([{ mode: 'original', data: bytes }, reduced, features]);
    const outcomes = await classifyImages(model, images, DEFAULT_DECODE_LIMITS);
    for (const o of outcomes) expect(o.ok, JSON.stringify(o)).toBe(true);
    const scores = outcomes.map((o) => (o.ok ? o.scores : null));
    expect(scores[1]).toEqual(scores[0]);
    expect(scores[2]).toEqual(scores[0]);
  });

  it('refuses reduced pixels without their colour planes, and a grey image, in words', async () => {
    const prepared = prepareImage(decodeImage(first('retinamnist', '0')), model.spec);
    const greyOnly: WireImage = { mode: 'reduced', width: 32, height: 32, pixels: prepared.data };
    const outcomes = await classifyImages(model, [greyOnly, { mode: 'original', data: first('breastmnist', '0') }], DEFAULT_DECODE_LIMITS);
    expect(outcomes).toEqual([
      { ok: false, code: 'notColour', message: "this service's colour features need the colour planes: send the reduced image with channels 3" },
      { ok: false, code: 'notColour', message: 'colour features need a colour image (RGB or RGBA); this one is grey' },
    ]);
  });
});
