import { z } from 'zod';
import { MedclassError } from '../errors.ts';
import { parseFeatureSpec } from '../features/spec.schema.ts';
import { FEATURE_NAMES, vectorLength, type FeatureName, type FeatureSpec } from '../features/spec.ts';
import { base64ToFloat32, base64ToFloat64, float32ToBase64, float64Bytes, float64ToBase64 } from './base64.ts';
import type { CnnModel } from './cnn/cnn_model.ts';
import { parameterSpecs } from './cnn/network.ts';
import type { ClassifierModel, Predictor, SingleModel } from './classifier.ts';
import { featureColumns } from './feature_columns.ts';
import { ClassifyError } from './errors.ts';
import { matrix, type Matrix } from './linalg.ts';
import type { Metrics } from './metrics.ts';
import { paramsLabel, type CandidateParams } from './params.ts';
import { Sha256, sha256Hex } from './sha256.ts';
import type { TrainOutcome } from './train.ts';

/**
 * The model file: one JSON document, versioned, self-describing and checked on load.
 *
 * Large arrays (support vectors, dual coefficients, KNN samples) are little-endian float64
 * in base64, so that every value comes back with the same bits and a loaded model predicts
 * exactly what the freshly trained one did. `integrity.sha256` is the SHA-256 of the
 * canonical JSON of everything else (keys sorted, no spaces): it detects a damaged or
 * edited file. It is not a signature: whoever can write the file can recompute it.
 */
export const MODEL_FORMAT = 'medclass-model';
/**
 * The newest version read. Version 2 added the CNN (classifier type 'cnn', float32 weights),
 * version 3 the ensemble (classifier type 'ensemble': members' probabilities averaged). SVM
 * and KNN models are still written as version 1, so that older readers keep reading them.
 */
export const MODEL_VERSION = 3;
/** The version a document is written as: the oldest that holds it. */
const versionFor = (type: ClassifierModel['type']): 1 | 2 | 3 => (type === 'ensemble' ? 3 : type === 'cnn' ? 2 : 1);
/** Members of an ensemble at most: the feature model and up to five CNNs from --auto, with room to spare (was four). */
export const MAX_ENSEMBLE_MEMBERS = 8;

const float64Array = z
  .object({
    dtype: z.literal('float64'),
    shape: z.array(z.number().int().nonnegative()).min(1).max(2),
    base64: z.string(),
  })
  .strict();
export type EncodedArray = z.infer<typeof float64Array>;

const float32Array = z
  .object({
    name: z.string(),
    dtype: z.literal('float32'),
    shape: z.array(z.number().int().positive()).min(1).max(4),
    base64: z.string(),
  })
  .strict();

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const unitInterval = z.number().min(0).max(1);

const classScoresSchema = z.object({ label: z.string(), precision: unitInterval, recall: unitInterval, f1: unitInterval, support: z.number().int().nonnegative() }).strict();
const metricsSchema = z
  .object({
    n: z.number().int().nonnegative(),
    labels: z.array(z.string()),
    accuracy: unitInterval,
    balancedAccuracy: unitInterval,
    auc: unitInterval.nullable(),
    aucPerClass: z.array(unitInterval.nullable()),
    confusion: z.array(z.array(z.number().int().nonnegative())),
    perClass: z.array(classScoresSchema),
  })
  .strict();

const gammaSetting = z.union([z.object({ scale: finite }).strict(), z.object({ value: finite }).strict()]);
const singleParams = [
  z.object({ type: z.literal('svm'), kernel: z.enum(['rbf', 'linear']), C: finite, gamma: gammaSetting }).strict(),
  z.object({ type: z.literal('knn'), k: z.number().int().positive(), metric: z.enum(['euclidean', 'cosine']), weights: z.enum(['uniform', 'distance']) }).strict(),
  z
    .object({
      type: z.literal('cnn'),
      epochs: z.number().int().positive(),
      widths: z.array(z.number().int().positive()).min(1).max(6),
      blocks: z.number().int().min(1).max(8).optional(),
      labelSmoothing: z.number().min(0).max(0.5).optional(),
      mixup: z.number().min(0).max(10).optional(),
      augment: z.boolean(),
      flip: z.boolean(),
    })
    .strict(),
] as const;
const paramsSchema = z.discriminatedUnion('type', [
  ...singleParams,
  z.object({ type: z.literal('ensemble'), members: z.array(z.discriminatedUnion('type', [...singleParams])).min(2).max(MAX_ENSEMBLE_MEMBERS) }).strict(),
]);

const svmSchema = z
  .object({
    type: z.literal('svm'),
    kernel: z.enum(['rbf', 'linear']),
    C: finite.positive(),
    gamma: finite.positive().nullable(),
    classWeight: z.array(finite.positive()).nullable(),
    nSupport: z.array(z.number().int().nonnegative()),
    supportVectors: float64Array,
    dualCoef: float64Array,
    intercept: z.array(finite),
    probA: z.array(finite).nullable(),
    probB: z.array(finite).nullable(),
  })
  .strict();

const knnSchema = z
  .object({
    type: z.literal('knn'),
    k: z.number().int().positive(),
    metric: z.enum(['euclidean', 'cosine']),
    weights: z.enum(['uniform', 'distance']),
    samples: float64Array,
    targets: z.array(z.number().int().nonnegative()),
  })
  .strict();

const cnnSchema = z
  .object({
    type: z.literal('cnn'),
    architecture: z
      .object({
        inputSize: z.number().int().min(8).max(512),
        channels: z.union([z.literal(1), z.literal(3)]),
        stemStride: z.number().int().min(1).max(8),
        widths: z.array(z.number().int().min(1).max(1024)).min(1).max(6),
        blocks: z.number().int().min(1).max(8).optional(),
        dropout: z.number().min(0).max(0.9),
        classes: z.number().int().min(2),
      })
      .strict(),
    /** Per channel, subtracted and divided before the network. */
    normalisation: z.object({ mean: z.array(finite), std: z.array(finite.positive()) }).strict(),
    /** Every parameter in parameterSpecs order: float32, little-endian, base64. */
    weights: z.array(float32Array),
    bestEpoch: z.number().int().nonnegative(),
    /** Per epoch (no timings: the same data and seed give the same document). */
    history: z.array(
      z
        .object({ epoch: z.number().int().positive(), learningRate: finite, loss: finite, accuracy: unitInterval, valLoss: finite, valAccuracy: unitInterval, valAuc: unitInterval.nullable() })
        .strict(),
    ),
  })
  .strict();

/**
 * An ensemble: each member reads the features it names (columns of the spec's vector, after
 * the one scaler; a CNN's pixels pass it unchanged), and the class probabilities of the
 * members are averaged, each by its `weight` (1 where absent: equal weights, as files made
 * before weights predict).
 */
const ensembleSchema = z
  .object({
    type: z.literal('ensemble'),
    combine: z.literal('mean-probability'),
    members: z
      .array(z.object({ features: z.array(z.string()).min(1), weight: z.number().positive().finite().optional(), classifier: z.discriminatedUnion('type', [svmSchema, knnSchema, cnnSchema]) }).strict())
      .min(2)
      .max(MAX_ENSEMBLE_MEMBERS),
  })
  .strict();

const candidateSchema = z.object({ label: z.string(), params: paramsSchema, balancedAccuracy: unitInterval, folds: z.array(unitInterval), capped: z.number().int().nonnegative() }).strict();

export const modelSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    version: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    createdAt: z.string(),
    /** Checked by parseFeatureSpec on load. */
    spec: z.unknown(),
    input: z
      .object({
        featureLength: z.number().int().positive(),
        /** With spec.size 0 (images kept at their size) the size the model was trained on. */
        imageSize: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).strict().nullable(),
      })
      .strict(),
    labels: z.array(z.string().min(1)).min(2),
    training: z
      .object({
        size: z.number().int().positive(),
        counts: z.record(z.string(), z.number().int().nonnegative()),
        /** SHA-256 of the training vectors and labels (see trainingContentHash). */
        contentHash: z.string().regex(/^[0-9a-f]{64}$/),
        seed: z.number().int(),
        params: paramsSchema,
        description: z.string(),
        selection: z
          .object({ mode: z.enum(['validation', 'cross-validation']), folds: z.number().int().positive(), best: z.number().int().nonnegative(), candidates: z.array(candidateSchema) })
          .strict()
          .nullable(),
        /** What --auto searched (feature sets, sizes, classifiers) and why it chose this model; absent in older files. */
        auto: z.record(z.string(), z.json()).optional(),
      })
      .strict(),
    scaler: z.object({ mean: float64Array, scale: float64Array }).strict(),
    classifier: z.discriminatedUnion('type', [svmSchema, knnSchema, cnnSchema, ensembleSchema]),
    /** Two classes: the decision threshold on class 1's score chosen by --auto (absent in older files: the classifier's own rule). */
    decision: z.object({ threshold: finite }).strict().optional(),
    metrics: z
      .object({
        estimate: z.object({ mode: z.enum(['validation', 'cross-validation']), folds: z.number().int().positive(), foldBalancedAccuracy: z.array(unitInterval), metrics: metricsSchema }).strict(),
        test: metricsSchema.nullable(),
      })
      .strict(),
    integrity: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
  })
  .strict();

export type ModelDocument = z.infer<typeof modelSchema>;

/** JSON with object keys sorted at every level and no spaces: what the integrity hash covers. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function integrityHash(doc: Record<string, unknown>): string {
  const { integrity: _ignored, ...rest } = doc;
  return sha256Hex(canonicalJson(rest));
}

/**
 * SHA-256 identifying a training set: a header, the vectors (n x d float64, little-endian)
 * as extracted, the class indices (int32, little-endian) and the label names.
 */
export function trainingContentHash(X: Matrix, y: Int32Array, labels: string[]): string {
  const h = new Sha256();
  h.update(`medclass-training-v1\n${X.rows}x${X.cols}\n`);
  h.update(float64Bytes(X.data));
  const yb = new Uint8Array(y.length * 4);
  const view = new DataView(yb.buffer);
  y.forEach((v, i) => view.setInt32(i * 4, v, true));
  h.update(yb);
  h.update(JSON.stringify(labels));
  let hex = '';
  for (const b of h.digest()) hex += b.toString(16).padStart(2, '0');
  return hex;
}

const encode = (values: Float64Array, shape: number[]): EncodedArray => ({ dtype: 'float64', shape, base64: float64ToBase64(values) });
const encodeMatrix = (m: Matrix): EncodedArray => encode(m.data, [m.rows, m.cols]);

export interface ModelInput {
  spec: FeatureSpec;
  labels: string[];
  featureLength: number;
  imageSize: { width: number; height: number } | null;
  outcome: TrainOutcome;
  training: { size: number; counts: Record<string, number>; contentHash: string; seed: number };
  createdAt: Date;
}

export function describeParams(p: CandidateParams, gamma: number | null): string {
  const base = paramsLabel(p);
  if (p.type === 'ensemble') return `ensemble: ${base}`;
  return p.type === 'svm' && p.kernel === 'rbf' && gamma !== null ? `${p.type.toUpperCase()} ${base} (gamma ${Number(gamma.toPrecision(6))})` : `${p.type.toUpperCase()} ${base}`;
}

function encodeCnn(m: CnnModel): z.infer<typeof cnnSchema> {
  return {
    type: 'cnn',
    architecture: { ...m.architecture, channels: m.architecture.channels as 1 | 3, widths: [...m.architecture.widths] },
    normalisation: { mean: [...m.normalisation.mean], std: [...m.normalisation.std] },
    weights: parameterSpecs(m.architecture).map((p) => ({ name: p.name, dtype: 'float32', shape: p.shape, base64: float32ToBase64(m.weights.get(p.name)!) })),
    bestEpoch: m.bestEpoch,
    history: m.history.map((h) => ({ epoch: h.epoch, learningRate: h.learningRate, loss: h.loss, accuracy: h.accuracy, valLoss: h.valLoss, valAccuracy: h.valAccuracy, valAuc: h.valAuc })),
  };
}

function decodeCnn(c: z.infer<typeof cnnSchema>, k: number, d: number): CnnModel {
  const a = c.architecture;
  if (a.classes !== k) bad(`the network has ${a.classes} outputs, labels ${k}`);
  if (a.inputSize * a.inputSize * a.channels !== d) bad(`the network takes ${a.inputSize}x${a.inputSize}x${a.channels} values, featureLength is ${d}`);
  if (c.normalisation.mean.length !== a.channels || c.normalisation.std.length !== a.channels) bad('normalisation needs one mean and std per channel');
  const specs = parameterSpecs({ ...a });
  if (c.weights.length !== specs.length) bad(`the network has ${specs.length} parameters, the file ${c.weights.length}`);
  const weights = new Map<string, Float32Array>();
  specs.forEach((p, i) => {
    const w = c.weights[i]!;
    if (w.name !== p.name || w.shape.length !== p.shape.length || w.shape.some((v, j) => v !== p.shape[j])) bad(`weights[${i}] is ${w.name} [${w.shape}], ${p.name} [${p.shape}] expected`);
    const count = p.shape.reduce((x, y) => x * y, 1);
    if (w.base64.length !== 4 * Math.ceil((count * 4) / 3)) bad(`${p.name}: ${w.base64.length} base64 characters, its shape needs ${4 * Math.ceil((count * 4) / 3)}`);
    let values: Float32Array;
    try {
      values = base64ToFloat32(w.base64);
    } catch (e) {
      return bad(`${p.name}: ${(e as Error).message}`);
    }
    if (values.length !== count || !values.every(Number.isFinite)) bad(`${p.name} holds a value that is not a finite number`);
    weights.set(p.name, values);
  });
  return { architecture: { ...a, widths: [...a.widths] }, normalisation: c.normalisation, weights, history: c.history.map((h) => ({ ...h, epochs: c.history.length, ms: 0 })), bestEpoch: c.bestEpoch };
}

type SingleDocument = z.infer<typeof svmSchema> | z.infer<typeof knnSchema> | z.infer<typeof cnnSchema>;

function encodeSingle(c: SingleModel): SingleDocument {
  if (c.type === 'cnn') return encodeCnn(c.model);
  if (c.type === 'knn') return { type: 'knn', k: c.model.k, metric: c.model.metric, weights: c.model.weights, samples: encodeMatrix(c.model.samples), targets: Array.from(c.model.targets) };
  return {
    type: 'svm',
    kernel: c.model.kernel,
    C: c.C,
    gamma: c.model.kernel === 'rbf' ? c.model.gamma : null,
    classWeight: c.classWeight,
    nSupport: Array.from(c.model.nSupport),
    supportVectors: encodeMatrix(c.model.supportVectors),
    dualCoef: encode(c.model.dualCoef, [c.model.nClasses - 1, c.model.supportVectors.rows]),
    intercept: Array.from(c.model.intercept),
    probA: c.model.probA ? Array.from(c.model.probA) : null,
    probB: c.model.probB ? Array.from(c.model.probB) : null,
  };
}

const toPlainMetrics = (m: Metrics): Metrics => JSON.parse(JSON.stringify(m)) as Metrics;

/** The model document of a training outcome, integrity hash included. */
export function buildModelDocument(input: ModelInput): ModelDocument {
  const { outcome } = input;
  const c = outcome.predictor.classifier;
  const classifier: ModelDocument['classifier'] =
    c.type === 'ensemble' ? { type: 'ensemble', combine: 'mean-probability', members: c.members.map((m) => ({ features: [...m.features], ...(m.weight !== undefined ? { weight: m.weight } : {}), classifier: encodeSingle(m.classifier) })) } : encodeSingle(c);
  const sel = outcome.selection;
  const doc: Omit<ModelDocument, 'integrity'> = {
    format: MODEL_FORMAT,
    version: versionFor(c.type),
    createdAt: input.createdAt.toISOString(),
    spec: input.spec,
    input: { featureLength: input.featureLength, imageSize: input.imageSize },
    labels: input.labels,
    training: {
      size: input.training.size,
      counts: input.training.counts,
      contentHash: input.training.contentHash,
      seed: input.training.seed,
      params: outcome.params,
      description: describeParams(outcome.params, outcome.gamma),
      selection: sel
        ? { mode: sel.mode, folds: sel.folds, best: sel.best, candidates: sel.candidates.map((r) => ({ label: r.label, params: r.params, balancedAccuracy: r.balancedAccuracy, folds: r.folds, capped: r.capped })) }
        : null,
      ...(outcome.auto ? { auto: outcome.auto } : {}),
    },
    scaler: { mean: encode(outcome.predictor.scaler.mean, [input.featureLength]), scale: encode(outcome.predictor.scaler.scale, [input.featureLength]) },
    classifier,
    ...(outcome.predictor.threshold !== undefined ? { decision: { threshold: outcome.predictor.threshold } } : {}),
    metrics: {
      estimate: { mode: outcome.estimate.mode, folds: outcome.estimate.folds, foldBalancedAccuracy: outcome.estimate.foldBalancedAccuracy, metrics: toPlainMetrics(outcome.estimate.metrics) },
      test: outcome.test ? toPlainMetrics(outcome.test) : null,
    },
  };
  return { ...doc, integrity: { sha256: integrityHash(doc as Record<string, unknown>) } };
}

export const serializeModel = (doc: ModelDocument): string => `${JSON.stringify(doc, null, 1)}\n`;

/** A model ready to classify feature vectors. */
export interface LoadedModel {
  doc: ModelDocument;
  spec: FeatureSpec;
  labels: string[];
  featureLength: number;
  imageSize: { width: number; height: number } | null;
  predictor: Predictor;
}

const bad = (message: string): never => {
  throw new ClassifyError('invalidModel', `invalid model file: ${message}`);
};

/** Largest model file read, in characters: checked before any parsing. */
export const MAX_MODEL_CHARS = 512 * 2 ** 20;

function decode(a: EncodedArray, what: string, shape: number[]): Float64Array {
  if (a.shape.length !== shape.length || a.shape.some((v, i) => v !== shape[i])) bad(`${what} has shape [${a.shape}], [${shape}] expected`);
  // the text must be as long as the declared shape says before anything is decoded or allocated
  const count = shape.reduce((x, y) => x * y, 1);
  const chars = 4 * Math.ceil((count * 8) / 3);
  if (a.base64.length !== chars) bad(`${what}: ${a.base64.length} base64 characters, its shape [${shape}] needs ${chars}`);
  let values: Float64Array;
  try {
    values = base64ToFloat64(a.base64);
  } catch (e) {
    return bad(`${what}: ${(e as Error).message}`);
  }
  if (values.length !== shape.reduce((x, y) => x * y, 1)) bad(`${what} holds ${values.length} values, its shape says ${shape.reduce((x, y) => x * y, 1)}`);
  if (!values.every(Number.isFinite)) bad(`${what} holds a value that is not a finite number`);
  return values;
}

/** One classifier of one kind (the document's, or an ensemble member's), its arrays checked against d features and k classes. */
function decodeSingle(c: SingleDocument, k: number, d: number, version: number, where: string): SingleModel {
  if (c.type === 'svm') {
    const P = (k * (k - 1)) / 2;
    if (c.nSupport.length !== k) bad(`nSupport has ${c.nSupport.length} classes, labels ${k}`);
    const nSV = c.nSupport.reduce((a, b) => a + b, 0);
    const sv = decode(c.supportVectors, `${where}supportVectors`, [nSV, d]);
    const dual = decode(c.dualCoef, `${where}dualCoef`, [k - 1, nSV]);
    if (c.intercept.length !== P) bad(`intercept has ${c.intercept.length} values, ${P} pairs`);
    if ((c.probA === null) !== (c.probB === null)) bad('probA and probB go together');
    if (c.probA && (c.probA.length !== P || c.probB!.length !== P)) bad(`probA/probB need ${P} values`);
    if (c.kernel === 'rbf' && c.gamma === null) bad('an RBF kernel needs gamma');
    if (c.classWeight && c.classWeight.length !== k) bad('classWeight needs one value per class');
    return {
      type: 'svm',
      C: c.C,
      classWeight: c.classWeight,
      model: {
        kernel: c.kernel,
        gamma: c.gamma ?? 0,
        nClasses: k,
        supportVectors: matrix(nSV, d, sv),
        nSupport: Int32Array.from(c.nSupport),
        dualCoef: dual,
        intercept: Float64Array.from(c.intercept),
        probA: c.probA ? Float64Array.from(c.probA) : null,
        probB: c.probB ? Float64Array.from(c.probB) : null,
      },
    };
  } else if (c.type === 'cnn') {
    if (version < 2) bad('a CNN needs format version 2');
    return { type: 'cnn', model: decodeCnn(c, k, d) };
  } else {
    const n = c.targets.length;
    const samples = decode(c.samples, `${where}samples`, [n, d]);
    if (c.targets.some((t) => t >= k)) bad('a KNN target is not a class');
    if (c.k > n) bad(`k ${c.k} is more than the ${n} samples`);
    return { type: 'knn', model: { k: c.k, metric: c.metric, weights: c.weights, nClasses: k, samples: matrix(n, d, samples), targets: Int32Array.from(c.targets) } };
  }
}

/** Checks a parsed JSON value and builds the model; every refusal says why. */
export function loadModelDocument(json: unknown): LoadedModel {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('not a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw['format'] !== MODEL_FORMAT) {
    throw new ClassifyError('invalidModel', `not a MedClass model file (format ${JSON.stringify(raw['format'] ?? null)}, "${MODEL_FORMAT}" expected)`);
  }
  const version = raw['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return bad(`version ${JSON.stringify(version ?? null)} is not a format version`);
  if (version > MODEL_VERSION) {
    throw new ClassifyError('unsupportedModel', `model format version ${version} is newer than this MedClass reads (version ${MODEL_VERSION}); update MedClass to use it`);
  }
  const integrity = raw['integrity'] as { sha256?: unknown } | undefined;
  if (typeof integrity?.sha256 !== 'string') return bad('no integrity hash');
  if (integrityHash(raw) !== integrity.sha256) {
    throw new ClassifyError('invalidModel', 'model file failed its integrity check: its content does not match its SHA-256 (the file was changed or damaged)');
  }
  const parsed = modelSchema.safeParse(raw);
  if (!parsed.success) return bad(parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'document'}: ${i.message}`).join('; '));
  const doc = parsed.data;
  let spec: FeatureSpec;
  try {
    spec = parseFeatureSpec(doc.spec);
  } catch (e) {
    if (e instanceof MedclassError) throw new ClassifyError('unsupportedModel', `the model's feature spec cannot be used here: ${e.message}`);
    throw e;
  }
  const { featureLength: d, imageSize } = doc.input;
  const k = doc.labels.length;
  if (new Set(doc.labels).size !== k) bad('labels repeat');
  if (spec.size > 0 && vectorLength(spec, spec.size, spec.size) !== d) bad(`featureLength ${d} does not match the spec (${vectorLength(spec, spec.size, spec.size)})`);
  if (spec.size === 0 && !imageSize) bad('spec.size 0 needs input.imageSize');
  if (imageSize && vectorLength(spec, imageSize.height, imageSize.width) !== d) bad(`featureLength ${d} does not match the spec at ${imageSize.width}x${imageSize.height}`);
  const scaler = { mean: decode(doc.scaler.mean, 'scaler.mean', [d]), scale: decode(doc.scaler.scale, 'scaler.scale', [d]) };
  if (!scaler.scale.every((v) => v > 0)) bad('scaler.scale must be positive');
  const c = doc.classifier;
  let classifier: ClassifierModel;
  if (c.type === 'ensemble') {
    if (doc.version < 3) bad('an ensemble needs format version 3');
    const h = spec.size || imageSize!.height;
    const w = spec.size || imageSize!.width;
    classifier = {
      type: 'ensemble',
      members: c.members.map((m, i) => {
        const unknown = m.features.filter((f) => !spec.features.includes(f as FeatureName));
        if (unknown.length) bad(`members[${i}] reads ${unknown.join(', ')}, which the spec does not extract`);
        const features = FEATURE_NAMES.filter((f) => m.features.includes(f));
        const columns = featureColumns(spec, features, h, w);
        const single = decodeSingle(m.classifier, k, columns.length, doc.version, `members[${i}].`);
        if (single.type === 'svm' && !single.model.probA) bad(`members[${i}] is an SVM without probabilities: an ensemble averages probabilities`);
        return { features, columns, classifier: single, ...(m.weight !== undefined ? { weight: m.weight } : {}) };
      }),
    };
  } else classifier = decodeSingle(c, k, d, doc.version, '');
  if (doc.decision && k !== 2) bad('a decision threshold applies to two classes only');
  const predictor: Predictor = doc.decision ? { scaler, classifier, threshold: doc.decision.threshold } : { scaler, classifier };
  return { doc, spec, labels: doc.labels, featureLength: d, imageSize, predictor };
}

/** Parses and checks a model file's text. */
export function parseModel(text: string, maxChars = MAX_MODEL_CHARS): LoadedModel {
  if (text.length > maxChars) throw new ClassifyError('invalidModel', `model file is ${text.length} characters long, more than the limit of ${maxChars}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ClassifyError('invalidModel', `not a model file: the content is not JSON (${(e as Error).message})`);
  }
  return loadModelDocument(json);
}
