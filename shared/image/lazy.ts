import { registerDecoder, type ImageDecoder } from './decoder.ts';
import { pngDecoder } from './png.ts';
import { hasDicmPrefix, isJpeg } from './signatures.ts';

/**
 * The decoders for a thread that decodes only through decodeImageAsync (the features
 * command's workers): PNG at once; JPEG and DICOM, whose libraries cost a thread about a
 * tenth of a second of start-up (dicom-parser above all), on their first file. Importing
 * index.ts as well changes nothing: a format is registered once, and a loaded lazy decoder
 * is the real one.
 */

function lazyDecoder(format: string, matches: (bytes: Uint8Array) => boolean, load: () => Promise<ImageDecoder>): ImageDecoder {
  const notLoaded = (): never => {
    throw new Error(`the ${format} decoder is not loaded yet: decode with decodeImageAsync`);
  };
  const decoder: ImageDecoder = {
    format,
    matches,
    dimensions: notLoaded,
    decode: notLoaded,
    async load() {
      const real = await load();
      decoder.dimensions = real.dimensions.bind(real);
      decoder.decode = real.decode.bind(real);
      if (real.prepare) decoder.prepare = real.prepare.bind(real);
      delete decoder.load;
    },
  };
  return decoder;
}

// the order of index.ts: DICOM is tried first, then PNG, then JPEG
registerDecoder(lazyDecoder('jpeg', isJpeg, async () => (await import('./jpeg.ts')).jpegDecoder));
registerDecoder(pngDecoder);
registerDecoder(lazyDecoder('dicom', hasDicmPrefix, async () => (await import('./dicom/dicom.ts')).dicomDecoder));

export { decodeImageAsync } from './decoder.ts';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.ts';
