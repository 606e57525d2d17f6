import { registerDecoder } from './decoder.ts';
import { dicomDecoder } from './dicom/dicom.ts';
import { jpegDecoder } from './jpeg.ts';
import { pngDecoder } from './png.ts';

registerDecoder(jpegDecoder);
registerDecoder(pngDecoder);
registerDecoder(dicomDecoder);

export { decodeImage, decodeImageAsync, findDecoder, registerDecoder, supportedFormats, type ImageDecoder } from './decoder.ts';
export { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.ts';
