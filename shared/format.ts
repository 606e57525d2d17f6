/**
 * Numbers in messages people read: grouped digits (`40,000,000`) and sizes in bytes
 * (`41.9 MB`), always in English so that a message reads the same from the server and the
 * browser.
 */
const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
const sized = UNITS.map((unit) => new Intl.NumberFormat('en-US', { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 }));

/** `40000000` as `40,000,000`. */
export const formatCount = (n: number): string => grouped.format(n);

/** A size in bytes in decimal units: `512 bytes`, `2.5 kB`, `41.9 MB`. */
export function formatBytes(n: number): string {
  let k = 0;
  let v = n;
  while (k < UNITS.length - 1 && Math.abs(v) >= 1000) {
    v /= 1000;
    k++;
  }
  return k === 0 ? `${grouped.format(n)} ${n === 1 ? 'byte' : 'bytes'}` : sized[k]!.format(v);
}
