import type { Extraction } from '../../shared/features/extract.ts';


/** One image in the golden files' format, as a JSON string. */
export function recordJson(name: string, e: Extraction): string {
  if (!e.ok) {
    return JSON.stringify({ file: name, width: e.width, height: e.height, error: e.error.message, errorCode: e.error.code });
  }
  const { hog, ...scalars } = e.values;
  const head = { file: name, width: e.width, height: e.height, resizedWidth: e.resizedWidth, resizedHeight: e.resizedHeight };
  const hogPart = hog ? `,"hog":[${hog.join(',')}]` : '';
  const scalarPart = JSON.stringify(scalars).slice(1, -1);
  return `${JSON.stringify(head).slice(0, -1)}${hogPart}${scalarPart ? `,${scalarPart}` : ''}}`;
}

/** A record ready to print, and whether it holds features. */
export interface RecordOut {
  json: string;
  ok: boolean;
}

export const recordOut = (name: string, e: Extraction): RecordOut => ({ json: recordJson(name, e), ok: e.ok });

