/** Exact powers of ten (10^k for |k| <= 22 are exact doubles). */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));


// The last `shortest` result, kept here rather than in a fresh object per value: the command
// writes millions of values, and their garbage cost more than the digits.
let foundDigits = 0;
let foundPower = 0;

/** Whether the `p`-digit decimal nearest to `a` (10^e10 <= a < 10^(e10 + 1)) reads back as `a`; if so it is `found*`. */
function fits(a: number, p: number, e10: number): boolean {
  const k = p - 1 - e10;
  let n: number;
  let back: number;
  if (k >= 0) {
    n = Math.round(a * POW10[k]!);
    back = n / POW10[k]!;
  } else {
    n = Math.round(a / POW10[-k]!);
    back = n * POW10[-k]!;
  }
  if (Math.fround(back) !== a) return false;
  foundDigits = n;
  foundPower = k;
  return true;
}

// The decimal exponent of a float32 from its binary one: 10^E10_LOW[e] <= a < 10^(E10_LOW[e] + 2)
// in binade e, the second where a >= E10_NEXT[e] (a binade spans less than a decade). A float32
// is never between a power of ten and its nearest double, so the comparison is exact. Quicker
// than Math.log10, whose call also costs the loop around it its registers.
const E10_LOW = new Int32Array(256);
const E10_NEXT = new Float64Array(256);
for (let e = 1; e < 255; e++) {
  const low = Math.floor(Math.log10(2 ** (e - 127)));
  E10_LOW[e] = low;
  E10_NEXT[e] = Number(`1e${low + 1}`);
}
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Finds the shortest decimal `foundDigits x 10^-foundPower` (no trailing zero) that reads
 * back as the float32 `a` (`Math.fround(Number(text)) === a`) for a finite `a > 0`: 9
 * significant digits always do; about a third of float32 values have one of 7 digits, most of
 * the rest one of 8. Each candidate is the decimal of that length nearest to `a`, checked
 * exactly; tried at 7 digits first, then down while shorter ones read back, else up (a rare
 * near-tie, where the nearest of some length misses but another of it reads back, may cost a
 * digit, never a wrong value). False below normal float32 values and outside 1e-13 to 1e14,
 * where 10^k is not exact at 9 digits.
 */
function shortest(a: number): boolean {
  f32[0] = a;
  const binade = u32[0]! >>> 23;
  if (binade === 0) return false;
  const e10 = E10_LOW[binade]! + (a >= E10_NEXT[binade]! ? 1 : 0);
  if (e10 < -13 || e10 > 13) return false;
  if (fits(a, 7, e10)) {
    for (let p = 6; p >= 1 && fits(a, p, e10); p--);
  } else if (!fits(a, 8, e10) && !fits(a, 9, e10)) return false;
  // (past int32 the plain double text: not expected, 9 digits hold under 10^9)
  if (foundDigits > 0x7fffffff) return false;
  // int32: on a double, % calls out to fmod
  let d = foundDigits | 0;
  let power = foundPower;
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

/** "00" to "99": two digits per step halve the chain of divisions. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => ZERO + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/**
 * The `len` decimal digits of `d` (leading zeros included) at `at`. Math.floor(d * 0.01) is
 * d's quotient by 100 exactly (0.01's double is above 0.01, and d < 2^31), and quicker than
 * a division.
 */
function writeDigits(out: Uint8Array, at: number, d: number, len: number): void {
  let i = at + len;
  while (i - at >= 2) {
    const q = Math.floor(d * 0.01);
    const r = (d - q * 100) << 1;
    out[--i] = PAIRS[r + 1]!;
    out[--i] = PAIRS[r]!;
    d = q;
  }
  if (i > at) out[at] = ZERO + d;
}
