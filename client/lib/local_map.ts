/** A string-to-string map kept as JSON in localStorage under one key. */

/** The map under `key`; empty when absent, malformed or storage is refused. */
export function readLocalMap(key: string): Record<string, string> {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Sets one entry, keeping the others. Throws when storage is refused. */
export function setLocalMapEntry(key: string, name: string, value: string): void {
  localStorage.setItem(key, JSON.stringify({ ...readLocalMap(key), [name]: value }));
}
