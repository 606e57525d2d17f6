/** A single-channel image with intensities in [0, 1], row-major. */
export interface GreyImage {
  width: number;
  height: number;
  data: Float32Array;
  /**
   * The decoded colour samples, where the file holds colour (RGB, RGBA, palette, colour
   * DICOM, colour JPEG): interleaved, `channels` per pixel (R, G, B first), each in 0 to
   * `maxValue`. Kept as the decoder made them, for the colour features
   * (docs/features.md section 10); `data` never depends on it.
   */
  colour?: ColourSamples;
}

export interface ColourSamples {
  samples: ArrayLike<number>;
  channels: number;
  maxValue: number;
}

/**
 * Decoded samples to grey intensities (docs/features.md section 1): BT.601 weights for
 * colour, alpha ignored, `g / maxValue` in double, rounded once to float32.
 * `channels` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); colour samples are kept
 * beside the grey unless `isColour` says the file is grey after all (a grey JPEG decoded to RGB).
 */
export function samplesToGrey(
  samples: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  maxValue: number,
  isColour = channels >= 3,
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
  return isColour ? { width, height, data, colour: { samples, channels, maxValue } } : { width, height, data };
}

/**
 * The R, G and B planes of a colour image (one after the other, row-major): each sample
 * divided by the maximum in double and rounded once to float32, as the grey is
 * (docs/features.md section 10).
 */
export function colourPlanes(image: GreyImage): Float32Array | null {
  if (!image.colour) return null;
  const { samples, channels, maxValue } = image.colour;
  const n = image.width * image.height;
  const planes = new Float32Array(3 * n);
  for (let i = 0, s = 0; i < n; i++, s += channels) {
    planes[i] = samples[s]! / maxValue;
    planes[n + i] = samples[s + 1]! / maxValue;
    planes[2 * n + i] = samples[s + 2]! / maxValue;
  }
  return planes;
}
