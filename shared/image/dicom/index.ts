/** DICOM: header facts, decoding to grey (docs/features.md section 1), and de-identification. */
export { dicomDecoder, decodeDicom, decodeDicomSync, dicomCodecsNeeded, readDicomInfo, type DecodeDicomOptions, type DicomInfo } from './dicom.ts';
export { codecBuild, codecLoaded, configureDicomCodecs, loadDicomCodecs, type CodecBuild, type DicomCodecOptions, type WasmCodec } from './codecs.ts';
export { TRANSFER_SYNTAXES } from './parse.ts';
export {
  BASIC_PROFILE,
  DEIDENTIFICATION_LIMITS,
  deidentify,
  deidentifyWithReport,
  type DeidAction,
  type DeidentificationReport,
} from './deidentify.ts';
