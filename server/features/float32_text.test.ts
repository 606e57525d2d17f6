import { describe, expect, it } from 'vitest';
import { FLOAT32_TEXT_MAX, float32Text, writeFloat32 } from './float32_text.ts';
import { TextBytes } from './text_bytes.ts';

/** The shortest `toPrecision` text that reads back as the float32 `x`, found the slow way. */
function shortestByPrecision(x: number): string {
  for (let p = 1; p <= 9; p++) {
    const text = x.toPrecision(p);
    if (Math.fround(Number(text)) === x) return text;
  }
  throw new Error(`no 9-digit text for ${x}`);
}

const significant = (text: string) => text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;

function bytesOf(x: number): string {
  const out = new Uint8Array(FLOAT32_TEXT_MAX + 8);
  const end = writeFloat32(out, 4, x);
  expect(end - 4).toBeLessThanOrEqual(FLOAT32_TEXT_MAX);
  return new TextDecoder().decode(out.subarray(4, end));
}

/** Float32 values of every kind: random bits over the whole range, HOG-like values in [0, 0.2], round ones, edges. */
function samples(): number[] {
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const xs: number[] = [];
  for (let i = 0; i < 20000; i++) {
    bits[0] = Math.floor(random() * 2 ** 32);
    xs.push(f[0]!);
    xs.push(Math.fround(random() * random() * 0.2));
  }
  for (let e = -45; e <= 38; e++) for (const m of [1, 1.5, 2.5, 9.99, 3.4028234]) xs.push(Math.fround(m * 10 ** e), -Math.fround(m * 10 ** e));
  for (let e = -149; e <= 127; e++) xs.push(Math.fround(2 ** e));
  xs.push(0, -0, 1, -1, 0.1, 0.2, 1e-7, 1e-6, 123456, 1234567, 16777216, 3.4028234663852886e38, 1.401298464324817e-45, NaN, Infinity, -Infinity);
  return xs.map((x) => Math.fround(x));
}

describe('float32Text', () => {
  it('reads back as the same float32, with the fewest significant digits, as JavaScript lays numbers out', () => {
    let longer = 0;
    for (const x of samples()) {
      const text = float32Text(x);
      if (!Number.isFinite(x)) {
        expect(text).toBe('null');
        continue;
      }
      expect(Math.fround(Number(text)), `${x} as ${text}`).toBe(x === 0 ? 0 : x);
      // the layout JavaScript gives the same number (1e-7 and below with an exponent)
      expect(text, String(x)).toBe(String(Number(text)));
      const best = significant(shortestByPrecision(x));
      const got = significant(text);
      // a near-tie may cost a digit more (documented), never fewer digits than possible
      expect(got, `${x} as ${text}`).toBeGreaterThanOrEqual(best);
      if (Math.abs(x) >= 1e-13 && Math.abs(x) < 1e13) {
        expect(got - best, `${x} as ${text}`).toBeLessThanOrEqual(1);
        if (got > best) longer++;
      }
    }
    // near-ties are rare
    expect(longer).toBeLessThan(50);
  });

  it('writes the same bytes as its text, value by value and as a vector', () => {
    const xs = samples();
    for (const x of xs) expect(bytesOf(x), String(x)).toBe(float32Text(x));
    const vector = Float32Array.from(xs.filter(Number.isFinite));
    // from a small buffer, so that it grows on the way
    const out = new TextBytes(16);
    out.float32s(vector, 44);
    expect(new TextDecoder().decode(out.bytes())).toBe(Array.from(vector, float32Text).join(','));
  });
});
