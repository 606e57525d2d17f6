/**
 * The compressed-frame decoders. JPEG lossless (jpeg-lossless-decoder-js), 12-bit JPEG
 * (jpeg_dct.ts) and RLE (rle.ts) are plain JavaScript and always ready. JPEG 2000
 * (OpenJPEG), JPEG-LS (CharLS) and 8-bit JPEG (libjpeg-turbo) are Cornerstone's Emscripten
 * builds, whose start-up is asynchronous: `loadDicomCodecs()` loads them once, after which
 * every decode is synchronous. Node uses their WebAssembly builds; a browser uses the same
 * when told where the `.wasm` files are served (`configureDicomCodecs`), else their
 * pure-JavaScript (wasm2js) builds, which need no file and no CSP change.
 */
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { MedclassError } from '../../errors.ts';

export type WasmCodec = 'jpeg2000' | 'jpegLs' | 'jpeg8';

export const WASM_CODECS: readonly WasmCodec[] = ['jpeg2000', 'jpegLs', 'jpeg8'];

const CODEC_NAMES: Record<WasmCodec, string> = {
  jpeg2000: 'JPEG 2000 (OpenJPEG)',
  jpegLs: 'JPEG-LS (CharLS)',
  jpeg8: '8-bit JPEG (libjpeg-turbo)',
};

interface Modules {
  jpeg2000?: { J2KDecoder: new () => CornerstoneCodec.J2KDecoder };
  jpegLs?: { JpegLSDecoder: new () => CornerstoneCodec.JpegLSDecoder };
  jpeg8?: { JPEGDecoder: new () => CornerstoneCodec.JPEGDecoder };
}

const loaded: Modules = {};
const loading = new Map<WasmCodec, Promise<void>>();

/** Which build of a codec is loaded: the real WebAssembly one, or the pure-JavaScript (wasm2js) fallback. */
export type CodecBuild = 'wasm' | 'js';
const builds: Partial<Record<WasmCodec, CodecBuild>> = {};

/** A CommonJS factory reached through ESM interop (Node gives `default`, bundlers may nest it). */
const factoryOf = <F>(m: { default: F }): F => ((m.default as { default?: F }).default ?? m.default) as F;

/** The codec's last message on its error stream (OpenJPEG says why a stream is bad there). */
let lastCodecMessage = '';

const codecSays = () => (lastCodecMessage ? ` (${lastCodecMessage.trim()})` : '');

export interface DicomCodecOptions {
  /**
   * Where a browser finds each codec's `.wasm` file (the packages' `decodewasm` exports, served
   * by the app, e.g. imported with Vite's `?url`). Without one, a browser gets the codec's
   * pure-JavaScript (wasm2js) build, which needs nothing served but decodes 15 to 20 times
   * slower. Node always uses the real WebAssembly build, found beside its package.
   */
  wasmUrl?: Partial<Record<WasmCodec, string | URL>>;
}

let codecOptions: DicomCodecOptions = {};

/** Sets where the browser finds the real WebAssembly builds; applies to codecs loaded afterwards. */
export function configureDicomCodecs(options: DicomCodecOptions): void {
  codecOptions = options;
}

const inNode = typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

/** Emscripten options: OpenJPEG logs '[INFO] ...' on stdout for every frame; keep that quiet. */
const moduleOptions = (wasmUrl: string | URL | undefined) => ({
  print: () => undefined,
  printErr: (text: string) => {
    lastCodecMessage = text;
  },
  ...(wasmUrl === undefined ? {} : { locateFile: () => String(wasmUrl) }),
});

async function instantiate(codec: WasmCodec): Promise<void> {
  const url = codecOptions.wasmUrl?.[codec];
  const wasm = inNode || url !== undefined; // else the wasm2js build, which needs no file
  builds[codec] = undefined;
  try {
    await instantiateBuild(codec, wasm, moduleOptions(inNode ? undefined : url));
    builds[codec] = wasm ? 'wasm' : 'js';
  } catch (e) {
    if (inNode || !wasm) throw e;
    // the .wasm file could not be fetched or compiled (offline before it was cached): the slower build still decodes
    await instantiateBuild(codec, false, moduleOptions(undefined));
    builds[codec] = 'js';
  }
}

async function instantiateBuild(codec: WasmCodec, wasm: boolean, options: ReturnType<typeof moduleOptions>): Promise<void> {
  switch (codec) {
    case 'jpeg2000':
      loaded.jpeg2000 = await factoryOf(
        wasm ? await import('@cornerstonejs/codec-openjpeg/decodewasmjs') : await import('@cornerstonejs/codec-openjpeg/decode'),
      )(options);
      break;
    case 'jpegLs':
      loaded.jpegLs = await factoryOf(
        wasm ? await import('@cornerstonejs/codec-charls/decodewasmjs') : await import('@cornerstonejs/codec-charls/decode'),
      )(options);
      break;
    case 'jpeg8':
      loaded.jpeg8 = await factoryOf(
        wasm
          ? await import('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs')
          : await import('@cornerstonejs/codec-libjpeg-turbo-8bit/decode'),
      )(options);
      break;
  }
}

/** Loads the WebAssembly codecs (all by default); resolves at once for those already loaded. */
export function loadDicomCodecs(codecs: readonly WasmCodec[] = WASM_CODECS): Promise<void> {
  return Promise.all(
    codecs.map((codec) => {
      if (loaded[codec]) return undefined;
      let promise = loading.get(codec);
      if (!promise) {
        promise = instantiate(codec).catch((e: unknown) => {
          loading.delete(codec);
          throw new MedclassError('unsupportedFormat', `the ${CODEC_NAMES[codec]} codec could not be loaded: ${String(e)}`);
        });
        loading.set(codec, promise);
      }
      return promise;
    }),
  ).then(() => undefined);
}

export const codecLoaded = (codec: WasmCodec): boolean => loaded[codec] !== undefined;

/** The build of a loaded codec ('wasm' or the slower 'js' fallback); null when not loaded. */
export const codecBuild = (codec: WasmCodec): CodecBuild | null => (loaded[codec] ? (builds[codec] ?? null) : null);

function need<K extends WasmCodec>(codec: K): NonNullable<Modules[K]> {
  const m = loaded[codec];
  if (!m) {
    throw new MedclassError(
      'unsupportedFormat',
      `DICOM ${CODEC_NAMES[codec]} frames need a WebAssembly codec that is not loaded yet: ` +
        'await loadDicomCodecs() before decoding synchronously (decodeDicom does it for you)',
    );
  }
  return m as NonNullable<Modules[K]>;
}

/** A decoded frame: samples interleaved by pixel, as the codec produced them. */
export interface CodecFrame {
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  /** Raw sample words (two's complement bit patterns for signed data). */
  samples: Uint8Array | Uint16Array | Uint32Array;
  /** Whether `samples` hold one plane per component (JPEG-LS without interleaving). */
  planar: boolean;
}

/** A C++ exception or abort from a WebAssembly codec, as a corrupt-stream error; the module is reloaded. */
function wasmFailure(codec: WasmCodec, e: unknown): MedclassError {
  if (e instanceof MedclassError) return e;
  // after an abort() an Emscripten module is unusable: drop it so that the next load starts afresh
  loaded[codec] = undefined;
  loading.delete(codec);
  const detail = (e instanceof Error ? e.message : typeof e === 'number' ? `C++ exception ${e}` : String(e)) + codecSays();
  return new MedclassError('corruptImage', `${CODEC_NAMES[codec]} could not decode the frame: ${detail}`);
}

function runWasm(codec: WasmCodec, decoder: CornerstoneCodec.Decoder, frame: Uint8Array, interleaveMode?: () => number): CodecFrame {
  lastCodecMessage = '';
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (!info.width || !info.height || !info.componentCount) {
      throw new MedclassError('corruptImage', `${CODEC_NAMES[codec]} could not decode the frame: it produced no image${codecSays()}`);
    }
    const bytes = decoder.getDecodedBuffer();
    const wide = info.bitsPerSample > 8;
    const count = info.width * info.height * info.componentCount;
    if (bytes.length < count * (wide ? 2 : 1)) {
      throw new MedclassError('corruptImage', `${CODEC_NAMES[codec]} returned ${bytes.length} bytes for ${count} samples`);
    }
    let samples: Uint8Array | Uint16Array;
    if (wide) {
      samples = new Uint16Array(count);
      for (let i = 0; i < count; i++) samples[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
    } else samples = bytes.slice(0, count);
    const planar = info.componentCount > 1 && interleaveMode !== undefined && interleaveMode() === 0;
    return { width: info.width, height: info.height, components: info.componentCount, bitsPerSample: info.bitsPerSample, samples, planar };
  } catch (e) {
    throw wasmFailure(codec, e);
  } finally {
    try {
      decoder.delete();
    } catch {
      // already gone with an aborted module
    }
  }
}

export function decodeJpeg2000(frame: Uint8Array): CodecFrame {
  const m = need('jpeg2000');
  return runWasm('jpeg2000', new m.J2KDecoder(), frame);
}

export function decodeJpegLs(frame: Uint8Array): CodecFrame {
  const m = need('jpegLs');
  const decoder = new m.JpegLSDecoder();
  return runWasm('jpegLs', decoder, frame, () => decoder.getInterleaveMode());
}

export function decodeJpeg8(frame: Uint8Array): CodecFrame {
  const m = need('jpeg8');
  return runWasm('jpeg8', new m.JPEGDecoder(), frame);
}

/** JPEG lossless, process 14 (any predictor), through jpeg-lossless-decoder-js. */
export function decodeJpegLossless(frame: Uint8Array, bytesPerSample: number): CodecFrame {
  try {
    const decoder = new JpegLosslessDecoder();
    const copy = frame.slice(); // the decoder wants a whole ArrayBuffer
    const samples = decoder.decode(copy.buffer, 0, copy.length, bytesPerSample);
    const precision = decoder.precision ?? 8 * bytesPerSample;
    return {
      width: decoder.xDim,
      height: decoder.yDim,
      components: decoder.numComp,
      bitsPerSample: precision,
      samples,
      planar: false,
    };
  } catch (e) {
    throw new MedclassError('corruptImage', `JPEG lossless frame could not be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
}
