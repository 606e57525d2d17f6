import { featureVector, type Extraction } from '../../shared/features/extract.ts';
import { featureLength, type FeatureSpec } from '../../shared/features/spec.ts';
import { FLOAT32_SCALARS, writeFeature, writeRecordJson } from './record_json.ts';
import { TextBytes } from './text_bytes.ts';

/** What `medclass features --format` writes (docs in README's command section). */
export const OUTPUT_FORMATS = ['json', 'jsonl', 'csv', 'npy'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One image's place in the output, beside its text: for npy its vector; `error` where it holds no features. */
export interface RecordOut {
  ok: boolean;
  vector?: Float64Array;
  /** `name: message`, for the formats without a place for it (npy). */
  error?: string;
  /** The file's name in the output (CSV, npy). */
  name?: string;
  /** The resized size, which fixes the columns (CSV, npy). */
  size?: [height: number, width: number];
}

/**
 * A chunk of images ready to write, made where they were extracted (on a worker): the
 * records' text in UTF-8 (JSON's joined by ",\n", JSON Lines' and CSV's each followed by
 * "\n"; empty for npy), where each record's text ends, and each record's place.
 */
export interface RecordsOut {
  text: Uint8Array;
  ends: number[];
  records: RecordOut[];
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

/** Where a thread writes its chunks' text: one buffer, grown once to a chunk's size, not one per chunk. */
const scratch = new TextBytes();

/** Images in the chosen format, in order. */
export function recordsOut(images: readonly { name: string; e: Extraction }[], spec: FeatureSpec, format: OutputFormat): RecordsOut {
  const out = scratch;
  out.clear();
  const ends: number[] = [];
  const records = images.map(({ name, e }, i) => {
    if (format === 'json' && i > 0) out.text(',\n');
    const record = recordOut(out, name, e, spec, format);
    if (format === 'jsonl' || format === 'csv') out.byte(10);
    ends.push(out.length);
    return record;
  });
  return { text: out.bytes(), ends, records };
}

function recordOut(out: TextBytes, name: string, e: Extraction, spec: FeatureSpec, format: OutputFormat): RecordOut {
  if (format === 'json' || format === 'jsonl') {
    writeRecordJson(out, name, e, spec);
    return { ok: e.ok };
  }
  if (!e.ok) {
    const error = e.error.message;
    if (format === 'npy') return { ok: false, error: `${name}: ${error}` };
    out.text([csvField(name), e.width ?? '', e.height ?? '', '', '', csvField(error)].join(','));
    return { ok: false };
  }
  const size: [number, number] = [e.resizedHeight, e.resizedWidth];
  if (format === 'npy') return { ok: true, name, vector: featureVector(e.values, spec, e.resizedHeight, e.resizedWidth), size };
  out.text(`${csvField(name)},${e.width},${e.height},${e.resizedWidth},${e.resizedHeight}`);
  for (const f of spec.features) {
    out.byte(44);
    writeFeature(out, e.values[f], FLOAT32_SCALARS.has(f));
  }
  out.byte(44);
  return { ok: true, name, size };
}
