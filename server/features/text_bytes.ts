import { FLOAT32_TEXT_MAX, writeFloat32 } from './float32_text.ts';

const encoder = new TextEncoder();

/**
 * UTF-8 text built in one growing byte buffer: the command's records are written here on the
 * worker threads, number by number, so that neither a string per value nor a string per
 * record is made (their garbage collection cost more than the formatting itself).
 */
export class TextBytes {
  private buffer: Uint8Array;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buffer = new Uint8Array(capacity);
  }

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + n));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** One ASCII character, by its code. */
  byte(code: number): void {
    this.room(1);
    this.buffer[this.length++] = code;
  }

  text(s: string): void {
    this.room(s.length * 3);
    this.length += encoder.encodeInto(s, this.buffer.subarray(this.length)).written;
  }

  /** A float32 value as its shortest exact decimal (`float32Text`). */
  float32(x: number): void {
    this.room(FLOAT32_TEXT_MAX);
    this.length = writeFloat32(this.buffer, this.length, x);
  }

  /** The values of a vector, separated by `separator` (an ASCII code). */
  float32s(v: ArrayLike<number>, separator: number): void {
    this.room(v.length * (FLOAT32_TEXT_MAX + 1));
    const out = this.buffer;
    let at = this.length;
    for (let i = 0; i < v.length; i++) {
      if (i) out[at++] = separator;
      at = writeFloat32(out, at, v[i]!);
    }
    this.length = at;
  }

  /** Starts again, keeping the buffer grown so far. */
  clear(): void {
    this.length = 0;
  }

  /** The bytes written so far, in a buffer of their own. */
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
