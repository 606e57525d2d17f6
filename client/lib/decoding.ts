/**
 * Image decoding in the web app, with the DICOM codecs' real WebAssembly builds: Vite emits
 * the three `.wasm` files as assets (the service worker precaches them with the rest, so they
 * work offline) and the codecs are told where they are served. Without this they would fall
 * back to their pure-JavaScript builds, 15 to 20 times slower. Import decoding from here.
 */
import charlsWasm from '@cornerstonejs/codec-charls/decodewasm?url';
import turboWasm from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm?url';
import openjpegWasm from '@cornerstonejs/codec-openjpeg/decodewasm?url';
import { configureDicomCodecs } from '../../shared/image/dicom/index.ts';

configureDicomCodecs({ wasmUrl: { jpeg2000: openjpegWasm, jpegLs: charlsWasm, jpeg8: turboWasm } });

export { decodeImageAsync, findDecoder } from '../../shared/image/index.ts';
export { codecBuild, dicomCodecsNeeded, readDicomInfo, type CodecBuild, type DicomInfo, type WasmCodec } from '../../shared/image/dicom/index.ts';
