import type { Extraction } from '../../shared/features/extract.ts';


/** One image in the golden files' format, as a JSON string. */
export function recordJson(name: string, e: Extraction): string {
  if (!e.ok) {
    return JSON.stringify({ file: name, width: e.width, height: e.height, error: e.error.message, errorCode: e.error.code });
  }
  const head = { file: name, width: e.width, height: e.height, resizedWidth: e.resizedWidth, resizedHeight: e.resizedHeight };
  // Vectors joined by hand: JSON.stringify writes a typed array as an object, and an
  // Array.from of a long HOG first would double the memory.
  const parts = Object.entries(e.values).map(([k, v]) => (typeof v === 'number' ? `${JSON.stringify(k)}:${JSON.stringify(v)}` : `${JSON.stringify(k)}:[${v.join(',')}]`));
  return `${JSON.stringify(head).slice(0, -1)}${parts.map((p) => `,${p}`).join('')}}`;
}

/** A record ready to print, and whether it holds features. */
export interface RecordOut {
  json: string;
  ok: boolean;
}

export const recordOut = (name: string, e: Extraction): RecordOut => ({ json: recordJson(name, e), ok: e.ok });

