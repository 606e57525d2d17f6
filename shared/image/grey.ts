/** A single-channel image with intensities in [0, 1], row-major. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Decoded samples to grey intensities (docs/features.md section 1): BT.601 weights for
 * colour, alpha ignored, `g / maxValue` in double, rounded once to float32.
 * `channels` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
 */
export function samplesToGrey(
  samples: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  maxValue: number,
): GreyImage {
  const n = width * height;
  const data = new Float32Array(n);
  if (channels <= 2) {
    for (let i = 0, s = 0; i < n; i++, s += channels) data[i] = samples[s]! / maxValue;
  } else {
    for (let i = 0, s = 0; i < n; i++, s += channels) {
      data[i] = (0.299 * samples[s]! + 0.587 * samples[s + 1]! + 0.114 * samples[s + 2]!) / maxValue;
    }
  }
  return { width, height, data };
}
