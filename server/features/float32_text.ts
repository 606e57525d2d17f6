/** Exact powers of ten (10^k for |k| <= 22 are exact doubles). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** `n x 10^-k` as the double nearest to it: one correctly rounded operation on exact operands. */
const scaled = (n: number, k: number): number => (k >= 0 ? n / POW10[k]! : n * POW10[-k]!);

// The last `shortest` result, kept here rather than in a fresh object per value: the command
// writes millions of values, and their garbage cost more than the digits.
let foundDigits = 0;
let foundPower = 0;

/**
 * Finds the shortest decimal `foundDigits x 10^-foundPower` (no trailing zero) that reads
 * back as the float32 `a` (`Math.fround(Number(text)) === a`) for a finite `a > 0`: 9
 * significant digits always do, and most values need 7 to 9. Found from 9 down, since a
 * decimal of p digits that reads back means one of p + 1 does; each candidate is the decimal
 * of that length nearest to `a`, checked exactly (a rare near-tie costs a digit more, never a
 * wrong value). False outside the range where 10^k is exact at 9 digits.
 */
function shortest(a: number): boolean {
  const e10 = Math.floor(Math.log10(a));
  if (e10 < -13 || e10 > 13) return false;
  let digits = 0;
  let power = 0;
  for (let p = 9; p >= 1; p--) {
    const k = p - 1 - e10;
    const n = Math.round(k >= 0 ? a * POW10[k]! : a / POW10[-k]!);
    if (Math.fround(scaled(n, k)) !== a) break;
    digits = n;
    power = k;
  }
  // (a log10 one short of the truth would give 10 digits; past int32 the plain double text)
  if (digits === 0 || digits > 0x7fffffff) return false;
  // int32: on a double, % calls out to fmod
  let d = digits | 0;
  while (d % 10 === 0) {
    d = (d / 10) | 0;
    power--;
  }
  foundDigits = d;
  foundPower = power;
  return true;
}

/**
 * The shortest decimal that reads back as the same float32 (`Math.fround(Number(text)) === x`),
 * for a float32 value `x`, where JSON.stringify of the same value writes its double's 17
 * digits. Written as JavaScript writes numbers (exponent from 1e-7 down); outside 1e-13 to
 * 1e14 the plain double text (long, still exact). Not finite: null, as JSON.stringify writes it.
 */
export function float32Text(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return 'null';
  if (!shortest(Math.abs(x))) return String(x);
  return (x < 0 ? '-' : '') + decimal(String(foundDigits), foundPower);
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

/** Most bytes `writeFloat32` writes for one value (`-1.4012984643248171e-45`, the longest fallback, is 23). */
export const FLOAT32_TEXT_MAX = 32;

const ZERO = 48;

/**
 * Writes `float32Text(x)` as ASCII into `out` at `at` (room for FLOAT32_TEXT_MAX bytes
 * needed); returns where it ends. The same text, without making a string per value.
 */
export function writeFloat32(out: Uint8Array, at: number, x: number): number {
  if (x === 0 || !Number.isFinite(x) || !shortest(Math.abs(x))) {
    const text = float32Text(x);
    for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
    return at;
  }
  if (x < 0) out[at++] = 45; // '-'
  // int32 arithmetic throughout: on a double, % and / call out to fmod and divide
  let d = foundDigits | 0;
  const power = foundPower | 0;
  const len = digitCount(d);
  if (power <= 0) {
    // an integer: the digits, then -power zeros
    writeDigits(out, at, d, len);
    at += len;
    for (let i = 0; i < -power; i++) out[at++] = ZERO;
    return at;
  }
  if (power < len) {
    // d.ddd: the point after len - power digits
    const head = len - power;
    writeDigits(out, at + head + 1, d % POW10_INT[power]!, power);
    out[at + head] = 46;
    writeDigits(out, at, (d / POW10_INT[power]!) | 0, head);
    return at + len + 1;
  }
  const exponent = len - power - 1;
  if (exponent >= -6) {
    // 0.000ddd
    out[at++] = ZERO;
    out[at++] = 46;
    for (let i = 0; i < power - len; i++) out[at++] = ZERO;
    writeDigits(out, at, d, len);
    return at + len;
  }
  // d.ddde-N
  if (len > 1) {
    writeDigits(out, at + 2, d % POW10_INT[len - 1]!, len - 1);
    out[at + 1] = 46;
    d = (d / POW10_INT[len - 1]!) | 0;
    out[at] = ZERO + d;
    at += len + 1;
  } else out[at++] = ZERO + d;
  out[at++] = 101; // 'e'
  out[at++] = 45;
  const e = -exponent;
  if (e >= 10) out[at++] = ZERO + ((e / 10) | 0);
  out[at++] = ZERO + (e % 10);
  return at;
}

const POW10_INT = Int32Array.from({ length: 10 }, (_, k) => 10 ** k);

/** Decimal digits of a positive int32 (up to 10: a value next to a power of ten may get 10). */
function digitCount(d: number): number {
  let len = 1;
  while (len < 10 && d >= POW10_INT[len]!) len++;
  return len;
}

/** The `len` decimal digits of `d` (leading zeros included) at `at`. */
function writeDigits(out: Uint8Array, at: number, d: number, len: number): void {
  for (let i = at + len - 1; i >= at; i--) {
    const q = (d / 10) | 0;
    out[i] = ZERO + d - q * 10;
    d = q;
  }
}
