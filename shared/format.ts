/**
 * Numbers in messages people read: grouped digits (`40,000,000`) and sizes in bytes
 * (`41.9 MB`), always in English so that a message reads the same from the server and the
 * browser.
 */
const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
// Made at first use: building them loads ICU's data, about 0.1 s of every thread's start-up
// (each feature worker imports this module for its error messages and never formats).
let formats: { grouped: Intl.NumberFormat; sized: Intl.NumberFormat[] } | null = null;
function numberFormats(): { grouped: Intl.NumberFormat; sized: Intl.NumberFormat[] } {
  formats ??= {
    grouped: new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 }),
    sized: UNITS.map((unit) => new Intl.NumberFormat('en-US', { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 1 })),
  };
  return formats;
}

/** `40000000` as `40,000,000`. */
export const formatCount = (n: number): string => numberFormats().grouped.format(n);

/** A size in bytes in decimal units: `512 bytes`, `2.5 kB`, `41.9 MB`. */
export function formatBytes(n: number): string {
  let k = 0;
  let v = n;
  while (k < UNITS.length - 1 && Math.abs(v) >= 1000) {
    v /= 1000;
    k++;
  }
  const { grouped, sized } = numberFormats();
  return k === 0 ? `${grouped.format(n)} ${n === 1 ? 'byte' : 'bytes'}` : sized[k]!.format(v);
}
