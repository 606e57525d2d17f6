/**
 * The CNN trained in the admin's browser: the images the admin picked are decoded here with the
 * shared decoders, resized as the server would (prepareImage), and the shared trainCnnModel runs
 * on the GPU through tfjs (WebGL) or, failing that, the CPU. Nothing leaves the device: the
 * result is the same model document the server's training writes (format, integrity hash,
 * training-set hash), which the admin may then publish (`publishModel`).
 *
 * Loaded on demand: it carries tfjs-layers (the gradients) and the network.
 */
import { getBackend, setBackend } from '@tensorflow/tfjs-core';
import { evaluateCnnAsync, releaseCnn } from '../../shared/classify/cnn/cnn_model.ts';
import { trainCnnModel } from '../../shared/classify/cnn/train_model.ts';
import type { EpochReport } from '../../shared/classify/cnn/train_cnn.ts';
import { cnnInputShape } from '../../shared/classify/cnn_input.ts';
import { checkTrainingClasses, countLabels, duplicateWarnings, findDuplicates, sortLabels, SPLITS, type SplitName } from '../../shared/classify/dataset.ts';
import { ClassifyError } from '../../shared/classify/errors.ts';
import { matrix } from '../../shared/classify/linalg.ts';
import type { Metrics } from '../../shared/classify/metrics.ts';
import { buildModelDocument, describeParams, parseModel, serializeModel, trainingContentHash, type ModelDocument } from '../../shared/classify/model.ts';
import type { CnnParams } from '../../shared/classify/params.ts';
import { rocCurves } from '../../shared/classify/roc.ts';
import { DEFAULT_SETTINGS, type LabelledSet } from '../../shared/classify/train.ts';
import { errorMessage, MedclassError } from '../../shared/errors.ts';
import { prepareImage } from '../../shared/features/extract.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { decodeImageAsync } from '../lib/decoding.ts';
import type { LocalDataset } from './dataset.ts';
import type { TrainReport } from './report.ts';
import { useTrainingBackend, type TrainingBackend } from './training_backend.ts';

export interface BrowserTrainOptions {
  params: CnnParams;
  classWeight: 'balanced' | null;
  onBackend?(backend: TrainingBackend): void;
  onProgress?(phase: 'decoding' | 'fitting', done: number, total: number): void;
  onEpoch?(report: EpochReport): void;
  signal?: AbortSignal;
}

export interface BrowserTrainResult {
  doc: ModelDocument;
  /** The model file's text: what `publishModel` sends. */
  modelText: string;
  report: TrainReport;
  backend: TrainingBackend;
}

interface Row {
  name: string;
  split: SplitName;
  label: string;
  vector: Float64Array;
  width: number;
  height: number;
}

/** The CNN's input of one prepared image: exactly the `pixels` or `colourPixels` feature the server extracts. */
function inputVector(prepared: ReturnType<typeof prepareImage>, spec: FeatureSpec): Float64Array {
  if (spec.features[0] === 'colourPixels') {
    if (!prepared.planes) throw new MedclassError('notColour', 'colour features need a colour image (RGB or RGBA); this one is grey');
    return Float64Array.from(prepared.planes);
  }
  return Float64Array.from(prepared.data);
}

const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

const plainMetrics = (m: Metrics | null) => (m ? (JSON.parse(JSON.stringify(m)) as TrainReport['test']) : null);

/**
 * Trains the CNN on the admin's dataset in this browser and writes its model document. The rows
 * are in the server's order (splits, classes, names), so the same images give the same
 * training-set hash as a training on the server. Images that cannot be used are left out with
 * a warning, as on the server.
 */
export async function trainInBrowser(dataset: LocalDataset, spec: FeatureSpec, o: BrowserTrainOptions): Promise<BrowserTrainResult> {
  const started = performance.now();
  const warnings: string[] = [];
  const trainLabels = sortLabels(dataset.images.filter((i) => i.split === 'train').map((i) => i.label));
  if (!trainLabels.length) throw new ClassifyError('invalidDataset', `${dataset.name}: no image files to train on`);
  for (const i of dataset.images) {
    if (!trainLabels.includes(i.label)) throw new ClassifyError('invalidDataset', `${dataset.name}/${i.split}: class '${i.label}' has no folder in train/`);
  }
  const labels = trainLabels;
  const splitIndex = (s: string) => SPLITS.indexOf(s as SplitName);
  const images = [...dataset.images].sort(
    (a, b) => splitIndex(a.split) - splitIndex(b.split) || labels.indexOf(a.label) - labels.indexOf(b.label) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );

  // Decoded and resized here; the images stay in this tab.
  const rows: Row[] = [];
  const leftOut: string[] = [];
  for (const [k, image] of images.entries()) {
    if (o.signal?.aborted) throw new Error('training was stopped');
    try {
      const grey = await decodeImageAsync(image.bytes);
      const prepared = prepareImage(grey, spec);
      rows.push({ name: image.path, split: image.split as SplitName, label: image.label, vector: inputVector(prepared, spec), width: grey.width, height: grey.height });
    } catch (e) {
      leftOut.push(`  ${image.path}: ${errorMessage(e)}`);
    }
    if ((k + 1) % 16 === 0 || k + 1 === images.length) {
      o.onProgress?.('decoding', k + 1, images.length);
      await pause();
    }
  }
  if (leftOut.length) warnings.push(`${leftOut.length} image(s) left out:`, ...leftOut.slice(0, 10), ...(leftOut.length > 10 ? [`  ... and ${leftOut.length - 10} more`] : []));
  const sizes = new Set(rows.map((r) => `${r.width}x${r.height}`));
  if (spec.size === 0 && sizes.size > 1) {
    throw new ClassifyError('invalidDataset', `size 0 keeps each image's size, but the images come in ${sizes.size} sizes (${[...sizes].slice(0, 4).join(', ')}); choose a size to resize them all`);
  }
  const imageSize = spec.size === 0 && rows[0] ? { width: rows[0].width, height: rows[0].height } : null;
  const settings = { seed: DEFAULT_SETTINGS.seed, classWeight: o.classWeight };
  const shape = cnnInputShape(spec, imageSize, settings);
  const bySplit = (s: SplitName) => rows.filter((r) => r.split === s);
  const trainWhere = `${dataset.name}${dataset.layout === 'splits' ? '/train' : ''}`;
  const counts = countLabels(bySplit('train').map((r) => r.label), labels);
  checkTrainingClasses(counts, trainWhere);
  for (const s of SPLITS) {
    if (s === 'train' || !bySplit(s).length) continue;
    const missing = labels.filter((l) => !bySplit(s).some((r) => r.label === l));
    if (missing.length) warnings.push(`${s}/ has no images of class ${missing.map((l) => `'${l}'`).join(', ')}`);
  }
  const d = rows[0]!.vector.length;
  const set = (s: SplitName): LabelledSet | undefined => {
    const list = bySplit(s);
    if (!list.length) return undefined;
    const data = new Float64Array(list.length * d);
    list.forEach((r, i) => data.set(r.vector, i * d));
    return { X: matrix(list.length, d, data), y: Int32Array.from(list, (r) => labels.indexOf(r.label)) };
  };
  const train = set('train')!;
  const val = set('val');
  const test = set('test');

  // The fit, on the GPU where there is one; the page's own backend comes back afterwards.
  const before = getBackend() as string | undefined;
  const backend = await useTrainingBackend();
  o.onBackend?.(backend);
  const fitStarted = performance.now();
  let outcome;
  let testEval;
  try {
    o.onProgress?.('fitting', 0, o.params.epochs);
    outcome = await trainCnnModel({ labels, train, val, test }, o.params, shape, {
      onEpoch: (r) => {
        o.onProgress?.('fitting', r.epoch, r.epochs);
        o.onEpoch?.(r);
      },
      // the page draws between batches
      onBatch: pause,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    // what predict() gives for this model (an identity scaler, no threshold), read asynchronously as WebGPU needs
    const net = outcome.predictor.classifier;
    if (net.type !== 'cnn' || outcome.predictor.threshold !== undefined) throw new Error('the browser trains a CNN without a threshold');
    testEval = test ? await evaluateCnnAsync(net.model, test.X) : null;
  } finally {
    // the weights' tensors on the GPU: the document keeps the values
    const net = outcome?.predictor.classifier;
    if (net?.type === 'cnn') releaseCnn(net.model);
    if (before && before !== getBackend()) await setBackend(before);
  }
  const fitMs = performance.now() - fitStarted;
  const doc = buildModelDocument({
    spec,
    labels,
    featureLength: d,
    imageSize,
    outcome,
    training: { size: train.y.length, counts, contentHash: trainingContentHash(train.X, train.y, labels), seed: settings.seed },
    createdAt: new Date(),
  });
  const modelText = serializeModel(doc);
  // what the server will check first: the document reads back
  parseModel(modelText);

  const duplicates = findDuplicates(
    await Promise.all(rows.map(async (r) => ({ name: r.name, split: r.split, label: r.label, hash: await vectorHash(r.vector) }))),
  );
  warnings.push(...duplicateWarnings(duplicates));
  const testNames = bySplit('test').map((r) => r.name);
  const cells = new Map<string, { true: string; predicted: string; count: number; names: string[] }>();
  testEval?.predicted.forEach((p, i) => {
    const t = test!.y[i]!;
    if (p === t) return;
    const key = `${t}:${p}`;
    const cell = cells.get(key) ?? { true: labels[t]!, predicted: labels[p]!, count: 0, names: [] };
    cell.count++;
    cell.names.push(testNames[i]!);
    cells.set(key, cell);
  });
  const c = outcome.predictor.classifier;
  const history = c.type === 'cnn' ? c.model.history : [];
  const report: TrainReport = {
    where: 'browser',
    backend: backend.label,
    dataset: { images: rows.length },
    warnings,
    params: { description: describeParams(outcome.params, outcome.gamma) },
    estimate: { mode: outcome.estimate.mode, folds: outcome.estimate.folds, metrics: plainMetrics(outcome.estimate.metrics) },
    test: plainMetrics(outcome.test),
    roc: testEval ? { on: 'test', curves: rocCurves(test!.y, testEval.scores, testEval.predicted, labels, outcome.predictor.threshold ?? null) } : undefined,
    epochs: history.map((h) => ({ epoch: h.epoch, epochs: h.epochs, loss: h.loss, accuracy: h.accuracy, valLoss: h.valLoss, valAccuracy: h.valAccuracy, valAuc: h.valAuc })),
    bestEpoch: c.type === 'cnn' ? c.model.bestEpoch : null,
    misclassified: [...cells.values()],
    model: { sha256: doc.integrity.sha256, bytes: modelText.length },
    timings: { fitMs: Math.round(fitMs), totalMs: Math.round(performance.now() - started) },
  };
  return { doc, modelText, report, backend };
}

/** Duplicates by the network's input (the decoded, resized pixels), as the server finds them by its vectors. */
async function vectorHash(v: Float64Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(v.buffer, v.byteOffset, v.byteLength) as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
