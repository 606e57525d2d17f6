/** Exact powers of ten (10^k for |k| <= 22 are exact doubles). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** `n x 10^-k` as the double nearest to it: one correctly rounded operation on exact operands. */
const scaled = (n: number, k: number): number => (k >= 0 ? n / POW10[k]! : n * POW10[-k]!);

/**
 * The shortest decimal that reads back as the same float32 (`Math.fround(Number(text)) === x`),
 * for a float32 value `x`: 9 significant digits always do, and most values need 7 to 9, where
 * JSON.stringify of the same value writes its double's 17. Found from 9 down, since a decimal
 * of p digits that reads back means one of p + 1 does; each candidate is the decimal of that
 * length nearest to x, checked exactly (a rare near-tie costs a digit more, never a wrong
 * value). Not finite: null, as JSON.stringify writes it.
 */
export function float32Text(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return 'null';
  const a = Math.abs(x);
  const e10 = Math.floor(Math.log10(a));
  // 10^k must be exact at 9 digits: beyond, the plain double text (long, still exact)
  if (e10 < -13 || e10 > 30) return String(x);
  let best = '';
  for (let p = 9; p >= 1; p--) {
    const k = p - 1 - e10;
    const n = Math.round(k >= 0 ? a * POW10[k]! : a / POW10[-k]!);
    const d = scaled(n, k);
    if (Math.fround(d) !== a) break;
    best = String(d);
  }
  if (best === '') best = String(a);
  return x < 0 ? `-${best}` : best;
}
