/** Bounds on what a decoder accepts, checked from the header before any pixel is decoded. */
export interface DecodeLimits {
  /** Largest encoded file, in bytes. */
  maxBytes: number;
  /** Largest width x height (pixel-flood and decompression-bomb guard). */
  maxPixels: number;
  /**
   * Leave the colour samples out (`GreyImage.colour`): for callers whose features are all
   * grey, which then skip allocating and filling three samples per pixel. PNG honours it.
   */
  greyOnly?: boolean;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxPixels: 40_000_000,
});
