import { featureLength, type FeatureSpec } from '../../shared/features/spec.ts';

// What the command's main thread needs of the output formats, apart from the writing of records
// (record_formats.ts, on the workers), so that it does not load the kernels.

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

/** The scalar features that are float32 values (from a float32 kernel output); hogMean and hogVariance are doubles. */
export const FLOAT32_SCALARS = new Set(['glcmEnergy', 'glcmContrast', 'glcmHomogeneity', 'glcmCorrelation']);

const isScalar = (f: string) => f === 'hogMean' || f === 'hogVariance' || FLOAT32_SCALARS.has(f);

