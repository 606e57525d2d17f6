/**
 * DICOM Part 10 parsing on top of dicom-parser: file meta, transfer syntax, the data set
 * (inflated, with a cap, for the deflated syntax), and errors that say precisely what is
 * wrong with a broken file.
 */
import * as dicomParserModule from 'dicom-parser';
import type { ByteArrayParser, ByteStream, DataSet, Element } from 'dicom-parser';
import { Inflate } from 'fflate';
import { MedclassError } from '../../errors.ts';
import { countInflate, inflateCounters } from '../inflate.ts';
import { hasDicmPrefix } from '../signatures.ts';

/** dicom-parser is a UMD bundle: Node's ESM loader exposes it as the default export only. */
export const dicomParser: typeof dicomParserModule =
  (dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule;

type DataSetConstructor = new (parser: ByteArrayParser, byteArray: Uint8Array, elements: Record<string, Element>) => DataSet;
type ByteStreamConstructor = new (parser: ByteArrayParser, byteArray: Uint8Array, position: number) => ByteStream;
const DataSetClass = (dicomParser as unknown as { DataSet: DataSetConstructor }).DataSet;
const ByteStreamClass = dicomParser.ByteStream as unknown as ByteStreamConstructor;

export type SyntaxKind = 'native' | 'encapsulatedNative' | 'rle' | 'jpeg' | 'jpegLossless' | 'jpegLs' | 'jpeg2000';

export interface TransferSyntax {
  uid: string;
  name: string;
  kind: SyntaxKind;
  explicit: boolean;
  littleEndian: boolean;
  deflated: boolean;
}

const ts = (uid: string, name: string, kind: SyntaxKind, extra: Partial<TransferSyntax> = {}): TransferSyntax => ({
  uid,
  name,
  kind,
  explicit: true,
  littleEndian: true,
  deflated: false,
  ...extra,
});

/** Every transfer syntax that decodes; others are read for their header only. */
export const TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntax> = new Map(
  [
    ts('1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native', { explicit: false }),
    ts('1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native'),
    ts('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native', { deflated: true }),
    ts('1.2.840.10008.1.2.2', 'Explicit VR Big Endian', 'native', { littleEndian: false }),
    ts('1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian', 'encapsulatedNative'),
    ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle'),
    ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg'),
    ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg'),
    ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpegLossless'),
    ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)', 'jpegLossless'),
    ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpegLs'),
    ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless)', 'jpegLs'),
    ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'jpeg2000'),
    ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg2000'),
  ].map((t) => [t.uid, t]),
);

/** Names of syntaxes that are recognised but not decoded, for clearer refusals. */
const OTHER_SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.101': 'MPEG2 High Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.111': 'JPEG XL JPEG Recompression',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.4.55': 'JPEG Full Progression (retired)',
  '1.2.840.10008.1.2.4.52': 'JPEG Extended (Process 3 & 5) (retired)',
};

export const syntaxName = (uid: string): string => TRANSFER_SYNTAXES.get(uid)?.name ?? OTHER_SYNTAX_NAMES[uid] ?? 'unknown';

export const corrupt = (message: string) => new MedclassError('corruptImage', message);

/** 'xGGGGEEEE' for dicom-parser, from a tag written as 0xGGGGEEEE. */
export const tagKey = (tag: number): string => `x${tag.toString(16).padStart(8, '0')}`;
/** '(GGGG,EEEE)' for messages. */
export const tagName = (key: string): string => `(${key.slice(1, 5).toUpperCase()},${key.slice(5, 9).toUpperCase()})`;

export const PIXEL_DATA = 'x7fe00010';

export interface ParsedDicom {
  /** File meta information (group 0002), always explicit VR little endian, over the original bytes. */
  meta: DataSet;
  /** The data set; its elements point into `ds.byteArray` (the inflated bytes for the deflated syntax). */
  ds: DataSet;
  transferSyntaxUID: string;
  /** Undefined for a syntax this module does not decode. */
  syntax: TransferSyntax | undefined;
  /** True when parsing stopped at the Pixel Data header (its value not checked). */
  headerOnly: boolean;
  /** Offset of the data set in the original file. */
  dataSetOffset: number;
}

export { hasDicmPrefix };

const exceptionText = (e: unknown): string => {
  const inner = (e as { exception?: unknown } | null)?.exception ?? e;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.replace(/^dicomParser[.:]\w+: /, '');
};

/** Reads the file meta information; refuses files without the Part 10 preamble and 'DICM'. */
export function readMeta(bytes: Uint8Array): { meta: DataSet; position: number; transferSyntaxUID: string } {
  if (!hasDicmPrefix(bytes)) {
    throw corrupt(
      bytes.length < 132
        ? `not a DICOM Part 10 file: ${bytes.length} bytes, too short for the 128-byte preamble and 'DICM'`
        : "not a DICOM Part 10 file: no 'DICM' at byte 128, so the file meta information (with the transfer syntax) is missing",
    );
  }
  let meta: DataSet;
  let transferSyntaxUID: string | undefined;
  try {
    meta = dicomParser.readPart10Header(bytes);
    // an element cut by the end of the file fails here, not in readPart10Header
    transferSyntaxUID = meta.string('x00020010')?.replace(/\0/g, '').trim();
  } catch (e) {
    throw corrupt(`DICOM file meta information is unreadable: ${exceptionText(e)}`);
  }
  if (!transferSyntaxUID) throw corrupt('DICOM file meta information has no Transfer Syntax UID (0002,0010)');
  const position = (meta as DataSet & { position: number }).position;
  return { meta, position, transferSyntaxUID };
}

export interface ParseOptions {
  /** Stop at the Pixel Data header (header facts only; deflated data is inflated only that far). */
  headerOnly: boolean;
  /** Most bytes a deflated data set may inflate to. */
  inflateCap: number;
}

/** Largest inflated prefix read for the header alone. */
const HEADER_INFLATE_CAP = 16 * 2 ** 20;

export function parseDicomFile(bytes: Uint8Array, options: ParseOptions): ParsedDicom {
  const { meta, position, transferSyntaxUID } = readMeta(bytes);
  const syntax = TRANSFER_SYNTAXES.get(transferSyntaxUID);
  const explicit = syntax?.explicit ?? true;
  const parser = syntax && !syntax.littleEndian ? dicomParser.bigEndianByteArrayParser : dicomParser.littleEndianByteArrayParser;
  let data = bytes;
  let start = position;
  if (syntax?.deflated) {
    const deflated = bytes.subarray(position);
    data = options.headerOnly
      ? inflateCapped(deflated, HEADER_INFLATE_CAP, (prefix) => reachesPixelData(prefix))
      : inflateCapped(deflated, options.inflateCap);
    start = 0;
  }
  if (start >= data.length) throw corrupt('DICOM file ends after its file meta information: it has no data set');
  const ds = new DataSetClass(parser, data, {});
  const stream = new ByteStreamClass(parser, data, start);
  ds.warnings = stream.warnings;
  const untilTag = options.headerOnly ? PIXEL_DATA : (undefined as unknown as string);
  try {
    if (explicit) dicomParser.parseDicomDataSetExplicit(ds, stream, data.length, { untilTag });
    else dicomParser.parseDicomDataSetImplicit(ds, stream, data.length, { untilTag });
  } catch (e) {
    throw parseFailure(e, ds, data, options.headerOnly && !!syntax?.deflated);
  }
  return { meta, ds, transferSyntaxUID, syntax, headerOnly: options.headerOnly, dataSetOffset: position };
}

/** Says which element ran past the end of the file, and how far. */
function parseFailure(e: unknown, ds: DataSet, data: Uint8Array, prefixOnly: boolean): MedclassError {
  const text = exceptionText(e);
  const elements = Object.values(ds.elements);
  const last = elements[elements.length - 1];
  if (/overrun|beyond|past end/i.test(text) && last && !prefixOnly) {
    const present = Math.max(0, data.length - last.dataOffset);
    if (last.tag === PIXEL_DATA && last.hadUndefinedLength) {
      const fragments = last.fragments ?? [];
      const cut = fragments.findIndex((f) => f.position + f.length > data.length);
      if (cut >= 0) {
        const f = fragments[cut]!;
        return corrupt(`DICOM pixel data is truncated: fragment ${cut + 1} declares ${f.length} bytes, ${Math.max(0, data.length - f.position)} present`);
      }
      return corrupt('DICOM pixel data is truncated: the file ends inside the encapsulated pixel data');
    }
    if (last.tag === PIXEL_DATA) {
      return corrupt(`DICOM pixel data is truncated: ${last.length} bytes declared, ${present} present`);
    }
    if (last.length !== undefined && last.length !== 0xffffffff && last.dataOffset + last.length > data.length) {
      return corrupt(`DICOM file is truncated: element ${tagName(last.tag)} declares ${last.length} bytes, ${present} present`);
    }
    return corrupt(`DICOM file is truncated inside or after element ${tagName(last.tag)} (${text})`);
  }
  return corrupt(`DICOM data set is corrupt${last ? ` after element ${tagName(last.tag)}` : ''}: ${text}`);
}

/** Whether an inflated prefix of the data set already holds everything up to the Pixel Data header. */
function reachesPixelData(prefix: Uint8Array): boolean {
  const parser = dicomParser.littleEndianByteArrayParser;
  const ds = new DataSetClass(parser, prefix, {});
  try {
    dicomParser.parseDicomDataSetExplicit(ds, new ByteStreamClass(parser, prefix, 0), prefix.length, { untilTag: PIXEL_DATA });
  } catch {
    // an element cut by the end of the prefix
  }
  return ds.elements[PIXEL_DATA] !== undefined;
}

/**
 * Inflates raw DEFLATE data (PS3.5 A.5) in small steps, refusing output beyond `cap`
 * before it is produced (a decompression bomb), and stopping early once `enough` says so.
 */
export function inflateCapped(input: Uint8Array, cap: number, enough?: (prefix: Uint8Array) => boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  countInflate(cap);
  const inflater = new Inflate((chunk) => {
    inflateCounters.bytesOut += chunk.length;
    chunks.push(chunk.slice());
    total += chunk.length;
  });
  const concat = () => {
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  };
  const STEP = 4096; // at most ~4 MiB of output per step (DEFLATE expands at most 1032:1)
  let nextCheck = 1 << 16;
  try {
    for (let i = 0; i < input.length; i += STEP) {
      inflater.push(input.subarray(i, i + STEP), i + STEP >= input.length);
      if (total > cap) {
        inflateCounters.refused++;
        throw new MedclassError(
          'imageTooLarge',
          `DICOM deflated data set inflates to more than ${cap} bytes from ${input.length}: refused as a decompression bomb`,
        );
      }
      if (enough && total >= nextCheck) {
        nextCheck = total * 2;
        const prefix = concat();
        if (enough(prefix)) return prefix;
      }
    }
  } catch (e) {
    if (e instanceof MedclassError) throw e;
    if (enough) return concat(); // the header check tolerates a cut stream; the full parse will not
    throw corrupt(`DICOM deflated data set is corrupt: ${e instanceof Error ? e.message : String(e)}`);
  }
  return concat();
}
