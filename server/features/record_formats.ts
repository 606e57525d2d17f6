import { featureVector, type Extraction } from '../../shared/features/extract.ts';
import type { FeatureSpec } from '../../shared/features/spec.ts';
import { csvField, FLOAT32_SCALARS, type OutputFormat, type RecordOut, type RecordsOut } from './output_formats.ts';
import { writeFeature, writeRecordJson } from './record_json.ts';
import { TextBytes } from './text_bytes.ts';

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
