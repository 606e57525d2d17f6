import { featureVector, type Extraction } from '../../shared/features/extract.ts';
import { featureLength, type FeatureSpec } from '../../shared/features/spec.ts';
import { FLOAT32_SCALARS, featureText, recordJson } from './record_json.ts';

/** What `medclass features --format` writes (docs in README's command section). */
export const OUTPUT_FORMATS = ['json', 'jsonl', 'csv', 'npy'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * One image ready to write, made where it was extracted (on a worker): its JSON or CSV
 * line, or for npy its vector; `error` where it holds no features.
 */
export interface RecordOut {
  ok: boolean;
  text?: string;
  vector?: Float64Array;
  /** `name: message`, for the formats without a place for it (npy). */
  error?: string;
  /** The file's name in the output (CSV, npy). */
  name?: string;
  /** The resized size, which fixes the columns (CSV, npy). */
  size?: [height: number, width: number];
}

/** A CSV field: quoted where it holds a comma, a quote or a line break. */
export const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The CSV header: the file and its sizes, one column per value of the vector (`hog_0`, ...), then the error. */
export function csvHeader(spec: FeatureSpec, height: number, width: number): string {
  const columns = ['file', 'width', 'height', 'resizedWidth', 'resizedHeight'];
  for (const f of spec.features) {
    const n = featureLength(f, spec, height, width);
    if (isScalar(f)) columns.push(f);
    else for (let i = 0; i < n; i++) columns.push(`${f}_${i}`);
  }
  columns.push('error');
  return columns.join(',');
}

const isScalar = (f: string) => f === 'hogMean' || f === 'hogVariance' || FLOAT32_SCALARS.has(f);

/** One image in the chosen format. */
export function recordOut(name: string, e: Extraction, spec: FeatureSpec, format: OutputFormat): RecordOut {
  if (format === 'json' || format === 'jsonl') return { ok: e.ok, text: recordJson(name, e, spec) };
  if (!e.ok) {
    const error = e.error.message;
    if (format === 'npy') return { ok: false, error: `${name}: ${error}` };
    return { ok: false, text: [csvField(name), e.width ?? '', e.height ?? '', '', '', csvField(error)].join(',') };
  }
  const size: [number, number] = [e.resizedHeight, e.resizedWidth];
  if (format === 'npy') return { ok: true, name, vector: featureVector(e.values, spec, e.resizedHeight, e.resizedWidth), size };
  let text = `${csvField(name)},${e.width},${e.height},${e.resizedWidth},${e.resizedHeight}`;
  for (const f of spec.features) text += `,${featureText(e.values[f], ',', FLOAT32_SCALARS.has(f))}`;
  return { ok: true, name, text: `${text},`, size };
}
