/** Floats per block: a chunk of 48 images of 64x64 in one. */
const BLOCK = 256 << 10;
/** Blocks this thread keeps between batches. */
const KEPT_BLOCKS = 8;

const spare: Float32Array[] = [];

/**
 * Grey buffers for one batch of decoded images, cut from blocks the thread keeps: a typed
 * array of its own per image (16 KiB at 64x64) cost the features command about a tenth of
 * its time on thousands of small PNGs, in allocation and page faults. The images of a batch
 * share the blocks until `release`, which hands them to the next batch: nothing may use the
 * images after it. Images larger than a block get an array of their own.
 */
export class GreyArena {
  readonly #blocks: Float32Array[] = [];
  #block: Float32Array | undefined;
  #used = 0;

  /** `pixels` zeroed floats, the caller's until release. */
  grey(pixels: number): Float32Array {
    if (pixels > BLOCK) return new Float32Array(pixels);
    if (!this.#block || this.#used + pixels > this.#block.length) {
      this.#block = spare.pop() ?? new Float32Array(BLOCK);
      this.#blocks.push(this.#block);
      this.#used = 0;
    }
    const out = this.#block.subarray(this.#used, this.#used + pixels);
    this.#used += pixels;
    return out.fill(0);
  }

  /** Ends the batch: its images' buffers go to the next. */
  release(): void {
    for (const block of this.#blocks.splice(0)) if (spare.length < KEPT_BLOCKS) spare.push(block);
    this.#block = undefined;
  }
}
