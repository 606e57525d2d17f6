// Types for the codec packages, which ship none (jpeg-lossless-decoder-js names a
// declaration file that its package does not contain).

declare module 'jpeg-lossless-decoder-js' {
  /** JPEG lossless (process 14, selection values 1 to 7), Huffman coded; one instance per frame. */
  export class Decoder {
    constructor(buffer?: ArrayBuffer | null, numBytes?: number);
    /** Decodes `length` bytes at `offset`; `numBytes` is the output sample size (1 or 2). */
    decode(buffer?: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
    xDim: number;
    yDim: number;
    numComp: number;
    precision: number | undefined;
  }
}

/** The embind interface shared by the Cornerstone WebAssembly decoders. */
declare namespace CornerstoneCodec {
  interface FrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  }

  interface Decoder {
    getEncodedBuffer(length: number): Uint8Array;
    getDecodedBuffer(): Uint8Array;
    decode(): void;
    getFrameInfo(): FrameInfo;
    delete(): void;
  }

  interface J2KDecoder extends Decoder {
    readHeader(): void;
    getColorSpace?(): number;
  }

  interface JpegLSDecoder extends Decoder {
    getInterleaveMode(): number;
    getNearLossless(): number;
  }

  interface JPEGDecoder extends Decoder {
    readHeader(): void;
  }
}

declare module '@cornerstonejs/codec-openjpeg/decode' {
  const factory: (module?: object) => Promise<{ J2KDecoder: new () => CornerstoneCodec.J2KDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-charls/decode' {
  const factory: (module?: object) => Promise<{ JpegLSDecoder: new () => CornerstoneCodec.JpegLSDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decode' {
  const factory: (module?: object) => Promise<{ JPEGDecoder: new () => CornerstoneCodec.JPEGDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (module?: object) => Promise<{ J2KDecoder: new () => CornerstoneCodec.J2KDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (module?: object) => Promise<{ JpegLSDecoder: new () => CornerstoneCodec.JpegLSDecoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: (module?: object) => Promise<{ JPEGDecoder: new () => CornerstoneCodec.JPEGDecoder }>;
  export default factory;
}
