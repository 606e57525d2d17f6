import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { countLabels } from '../shared/classify/dataset.ts';
import { matrix, takeRows } from '../shared/classify/linalg.ts';
import { buildModelDocument, trainingContentHash, type ModelDocument } from '../shared/classify/model.ts';
import type { LabelledSet, TrainData, TrainOutcome } from '../shared/classify/train.ts';
import type { FeatureSpec } from '../shared/features/spec.ts';
import { parseFeatureSpec } from '../shared/features/spec.schema.ts';
import type { SplitName } from '../shared/classify/dataset.ts';
import { PROJECT_ROOT } from '../server/paths.ts';
import { scanDataset, type DatasetFile } from '../server/training/dataset.ts';
import { extractFiles } from '../server/training/extract.ts';

/** The README's parity setting: all seven features, images at their own 28x28, 32 levels. */
export const PARITY_SPEC = parseFeatureSpec({ size: 0, levels: 32 });

export interface LoadedSplits extends TrainData {
  files: Record<SplitName, DatasetFile[]>;
}

/** A split dataset's feature vectors (extracted on worker threads), as the train command reads it. */
export async function loadSplits(root: string, spec = PARITY_SPEC, threads = 2): Promise<LoadedSplits> {
  const layout = await scanDataset(root);
  const results = await extractFiles(layout.files, spec, { threads });
  const files = { train: [], val: [], test: [] } as Record<SplitName, DatasetFile[]>;
  const rows = { train: [], val: [], test: [] } as Record<SplitName, Float64Array[]>;
  layout.files.forEach((f, i) => {
    const r = results[i]!;
    if (!r.ok) throw new Error(`${f.name}: ${r.error}`);
    files[f.split].push(f);
    rows[f.split].push(r.vector);
  });
  const set = (s: SplitName): LabelledSet | undefined => {
    const list = rows[s];
    if (!list.length) return undefined;
    const d = list[0]!.length;
    const data = new Float64Array(list.length * d);
    list.forEach((v, i) => data.set(v, i * d));
    return { X: matrix(list.length, d, data), y: Int32Array.from(files[s], (f) => layout.labels.indexOf(f.label)) };
  };
  return { labels: layout.labels, train: set('train')!, val: set('val'), test: set('test'), files };
}

const run = promisify(execFile);
/** The CLI from the sources, in a fresh process, with extra environment variables. */
export const medclassWith = (env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  run(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 1 << 28,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
/** The CLI from the sources, in a fresh process. */
export const medclass = (...args: string[]) => medclassWith({}, ...args);

/** A few rows of each split, for tests of a model's plumbing rather than its accuracy. */
export interface SmallSplits {
  labels: string[];
  train: LabelledSet;
  val: LabelledSet;
  test: LabelledSet;
}

const rowsOf = (s: LabelledSet, idx: ArrayLike<number>): LabelledSet => ({ X: takeRows(s.X, idx), y: Int32Array.from(idx, (i) => s.y[i]!) });
const firstRows = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** `trainRows` of train, the first 20 images of val and the first 24 of test. */
export function smallSplits(data: LoadedSplits, trainRows: ArrayLike<number>): SmallSplits {
  return { labels: data.labels, train: rowsOf(data.train, trainRows), val: rowsOf(data.val!, firstRows(20)), test: rowsOf(data.test!, firstRows(24)) };
}

/** The model document of a model trained on `small`'s train rows. */
export function smallDocument(spec: FeatureSpec, small: SmallSplits, outcome: TrainOutcome, seed: number): ModelDocument {
  return buildModelDocument({
    spec,
    labels: small.labels,
    featureLength: small.train.X.cols,
    imageSize: null,
    outcome,
    training: { size: small.train.y.length, counts: countLabels(Array.from(small.train.y, (c) => small.labels[c]!), small.labels), contentHash: trainingContentHash(small.train.X, small.train.y, small.labels), seed },
    createdAt: new Date('2026-01-01T00:00:00Z'),
  });
}
