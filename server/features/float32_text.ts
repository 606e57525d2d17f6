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
  if (e10 < -13 || e10 > 13) return String(x);
  let digits = 0;
  let power = 0;
  for (let p = 9; p >= 1; p--) {
    const k = p - 1 - e10;
    const n = Math.round(k >= 0 ? a * POW10[k]! : a / POW10[-k]!);
    if (Math.fround(scaled(n, k)) !== a) break;
    digits = n;
    power = k;
  }
  if (digits === 0) return String(x);
  while (digits % 10 === 0) {
    digits /= 10;
    power--;
  }
  return (x < 0 ? '-' : '') + decimal(String(digits), power);
}

/** `digits x 10^-power` written out (digits has no trailing zero), as JavaScript writes numbers: exponent from 1e-7 down and from 1e21 up. */
function decimal(digits: string, power: number): string {
  const len = digits.length;
  if (power <= 0) return digits + '0'.repeat(-power);
  if (power < len) return `${digits.slice(0, len - power)}.${digits.slice(len - power)}`;
  const exponent = len - power - 1;
  if (exponent >= -7 + 1) return `0.${'0'.repeat(power - len)}${digits}`;
  return `${digits[0]}${len > 1 ? `.${digits.slice(1)}` : ''}e${exponent}`;
}
