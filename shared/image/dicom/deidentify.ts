/**
 * De-identification after DICOM PS3.15 Annex E, Basic Application Confidentiality Profile
 * (Table E.1-1), without any retain option: identifying attributes are removed or emptied,
 * UIDs are replaced consistently within one call (new UIDs under 2.25, from random UUIDs),
 * private and curve/overlay groups are removed, and Patient Identity Removed (0012,0062),
 * De-identification Method (0012,0063) and its code sequence (0012,0064) are set. The pixel
 * data is copied byte for byte, so the result decodes to identical pixels; the file keeps
 * its transfer syntax. What is not covered is listed in DEIDENTIFICATION_LIMITS.
 */
import type { DataSet, Element } from 'dicom-parser';
import { deflateSync } from 'fflate';
import { MedclassError } from '../../errors.ts';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../limits.ts';
import { corrupt, parseDicomFile, PIXEL_DATA, readMeta, tagName, TRANSFER_SYNTAXES, type ParsedDicom } from './parse.ts';
import { nativePixelDataBytes, readPixelModule } from './pixels.ts';
import { formatBytes, formatCount } from '../../format.ts';

/** X: remove; Z: keep, empty; U: replace each UID consistently. */
export type DeidAction = 'X' | 'Z' | 'U';

/**
 * The attributes handled by name (PS3.15 Table E.1-1, basic profile). Beyond these: every
 * private attribute, groups 50xx (curves) and 60xx (overlays, which can carry burned-in
 * text) are removed; and in explicit VR files every other person name (PN), date, time and
 * date-time (DA, TM, DT), every public attribute of VR UN outside the image pixel module
 * (its content cannot be inspected) is removed, and every other UI value that is not a
 * DICOM-defined UID (1.2.840.10008.*) is replaced.
 */
export const BASIC_PROFILE: ReadonlyArray<readonly [tag: number, name: string, action: DeidAction]> = [
  [0x00080012, 'Instance Creation Date', 'X'],
  [0x00080013, 'Instance Creation Time', 'X'],
  [0x00080014, 'Instance Creator UID', 'U'],
  [0x00080015, 'Instance Coercion DateTime', 'X'],
  [0x00080018, 'SOP Instance UID', 'U'],
  [0x00080020, 'Study Date', 'Z'],
  [0x00080021, 'Series Date', 'X'],
  [0x00080022, 'Acquisition Date', 'X'],
  [0x00080023, 'Content Date', 'Z'],
  [0x00080024, 'Overlay Date', 'X'],
  [0x00080025, 'Curve Date', 'X'],
  [0x0008002a, 'Acquisition DateTime', 'X'],
  [0x00080030, 'Study Time', 'Z'],
  [0x00080031, 'Series Time', 'X'],
  [0x00080032, 'Acquisition Time', 'X'],
  [0x00080033, 'Content Time', 'Z'],
  [0x00080034, 'Overlay Time', 'X'],
  [0x00080035, 'Curve Time', 'X'],
  [0x00080050, 'Accession Number', 'Z'],
  [0x00080058, 'Failed SOP Instance UID List', 'U'],
  [0x00080080, 'Institution Name', 'X'],
  [0x00080081, 'Institution Address', 'X'],
  [0x00080082, 'Institution Code Sequence', 'X'],
  [0x00080090, "Referring Physician's Name", 'Z'],
  [0x00080092, "Referring Physician's Address", 'X'],
  [0x00080094, "Referring Physician's Telephone Numbers", 'X'],
  [0x00080096, 'Referring Physician Identification Sequence', 'X'],
  [0x0008009c, "Consulting Physician's Name", 'X'],
  [0x0008009d, 'Consulting Physician Identification Sequence', 'X'],
  [0x00080201, 'Timezone Offset From UTC', 'X'],
  [0x00081010, 'Station Name', 'X'],
  [0x00081030, 'Study Description', 'X'],
  [0x00081032, 'Procedure Code Sequence', 'X'],
  [0x0008103e, 'Series Description', 'X'],
  [0x00081040, 'Institutional Department Name', 'X'],
  [0x00081041, 'Institutional Department Type Code Sequence', 'X'],
  [0x00081048, 'Physician(s) of Record', 'X'],
  [0x00081049, 'Physician(s) of Record Identification Sequence', 'X'],
  [0x00081050, "Performing Physicians' Name", 'X'],
  [0x00081052, 'Performing Physician Identification Sequence', 'X'],
  [0x00081060, 'Name of Physician(s) Reading Study', 'X'],
  [0x00081062, 'Physician(s) Reading Study Identification Sequence', 'X'],
  [0x00081070, "Operators' Name", 'X'],
  [0x00081072, 'Operator Identification Sequence', 'X'],
  [0x00081080, 'Admitting Diagnoses Description', 'X'],
  [0x00081084, 'Admitting Diagnoses Code Sequence', 'X'],
  [0x00081110, 'Referenced Study Sequence', 'X'],
  [0x00081111, 'Referenced Performed Procedure Step Sequence', 'X'],
  [0x00081120, 'Referenced Patient Sequence', 'X'],
  [0x00081155, 'Referenced SOP Instance UID', 'U'],
  [0x00081195, 'Transaction UID', 'U'],
  [0x00081250, 'Related Series Sequence', 'X'],
  [0x00082111, 'Derivation Description', 'X'],
  [0x00084000, 'Identifying Comments', 'X'],
  [0x00100010, "Patient's Name", 'Z'],
  [0x00100020, 'Patient ID', 'Z'],
  [0x00100021, 'Issuer of Patient ID', 'X'],
  [0x00100022, 'Type of Patient ID', 'X'],
  [0x00100024, 'Issuer of Patient ID Qualifiers Sequence', 'X'],
  [0x00100030, "Patient's Birth Date", 'Z'],
  [0x00100032, "Patient's Birth Time", 'X'],
  [0x00100033, "Patient's Birth Date in Alternative Calendar", 'X'],
  [0x00100034, "Patient's Death Date in Alternative Calendar", 'X'],
  [0x00100035, "Patient's Alternative Calendar", 'X'],
  [0x00100040, "Patient's Sex", 'Z'],
  [0x00100050, "Patient's Insurance Plan Code Sequence", 'X'],
  [0x00100101, "Patient's Primary Language Code Sequence", 'X'],
  [0x00100102, "Patient's Primary Language Modifier Code Sequence", 'X'],
  [0x00101000, 'Other Patient IDs', 'X'],
  [0x00101001, 'Other Patient Names', 'X'],
  [0x00101002, 'Other Patient IDs Sequence', 'X'],
  [0x00101005, "Patient's Birth Name", 'X'],
  [0x00101010, "Patient's Age", 'X'],
  [0x00101020, "Patient's Size", 'X'],
  [0x00101030, "Patient's Weight", 'X'],
  [0x00101040, "Patient's Address", 'X'],
  [0x00101050, 'Insurance Plan Identification', 'X'],
  [0x00101060, "Patient's Mother's Birth Name", 'X'],
  [0x00101080, 'Military Rank', 'X'],
  [0x00101081, 'Branch of Service', 'X'],
  [0x00101090, 'Medical Record Locator', 'X'],
  [0x00101100, 'Referenced Patient Photo Sequence', 'X'],
  [0x00102000, 'Medical Alerts', 'X'],
  [0x00102110, 'Allergies', 'X'],
  [0x00102150, 'Country of Residence', 'X'],
  [0x00102152, 'Region of Residence', 'X'],
  [0x00102154, "Patient's Telephone Numbers", 'X'],
  [0x00102155, "Patient's Telecom Information", 'X'],
  [0x00102160, 'Ethnic Group', 'X'],
  [0x00102180, 'Occupation', 'X'],
  [0x001021a0, 'Smoking Status', 'X'],
  [0x001021b0, 'Additional Patient History', 'X'],
  [0x001021c0, 'Pregnancy Status', 'X'],
  [0x001021d0, 'Last Menstrual Date', 'X'],
  [0x001021f0, "Patient's Religious Preference", 'X'],
  [0x00102203, "Patient's Sex Neutered", 'X'],
  [0x00102297, 'Responsible Person', 'X'],
  [0x00102299, 'Responsible Organization', 'X'],
  [0x00104000, 'Patient Comments', 'X'],
  [0x00120010, 'Clinical Trial Sponsor Name', 'X'],
  [0x00120020, 'Clinical Trial Protocol ID', 'X'],
  [0x00120021, 'Clinical Trial Protocol Name', 'X'],
  [0x00120030, 'Clinical Trial Site ID', 'X'],
  [0x00120031, 'Clinical Trial Site Name', 'X'],
  [0x00120040, 'Clinical Trial Subject ID', 'X'],
  [0x00120042, 'Clinical Trial Subject Reading ID', 'X'],
  [0x00120050, 'Clinical Trial Time Point ID', 'X'],
  [0x00120051, 'Clinical Trial Time Point Description', 'X'],
  [0x00120060, 'Clinical Trial Coordinating Center Name', 'X'],
  [0x00120062, 'Patient Identity Removed (rewritten)', 'X'],
  [0x00120063, 'De-identification Method (rewritten)', 'X'],
  [0x00120064, 'De-identification Method Code Sequence (rewritten)', 'X'],
  [0x00120071, 'Clinical Trial Series ID', 'X'],
  [0x00120072, 'Clinical Trial Series Description', 'X'],
  [0x00120081, 'Clinical Trial Protocol Ethics Committee Name', 'X'],
  [0x00120082, 'Clinical Trial Protocol Ethics Committee Approval Number', 'X'],
  [0x00180010, 'Contrast/Bolus Agent', 'X'],
  [0x00181000, 'Device Serial Number', 'X'],
  [0x00181002, 'Device UID', 'U'],
  [0x00181004, 'Plate ID', 'X'],
  [0x00181005, 'Generator ID', 'X'],
  [0x00181007, 'Cassette ID', 'X'],
  [0x00181008, 'Gantry ID', 'X'],
  [0x00181012, 'Date of Secondary Capture', 'X'],
  [0x00181014, 'Time of Secondary Capture', 'X'],
  [0x00181030, 'Protocol Name', 'X'],
  [0x00181400, 'Acquisition Device Processing Description', 'X'],
  [0x00181200, 'Date of Last Calibration', 'X'],
  [0x00181201, 'Time of Last Calibration', 'X'],
  [0x00184000, 'Acquisition Comments', 'X'],
  [0x0018700a, 'Detector ID', 'X'],
  [0x00189074, 'Frame Acquisition DateTime', 'X'],
  [0x00189151, 'Frame Reference DateTime', 'X'],
  [0x00189424, 'Acquisition Protocol Description', 'X'],
  [0x0018a002, 'Contribution DateTime', 'X'],
  [0x0018a003, 'Contribution Description', 'X'],
  [0x0020000d, 'Study Instance UID', 'U'],
  [0x0020000e, 'Series Instance UID', 'U'],
  [0x00200010, 'Study ID', 'Z'],
  [0x00200052, 'Frame of Reference UID', 'U'],
  [0x00200200, 'Synchronization Frame of Reference UID', 'U'],
  [0x00203401, 'Modifying Device ID', 'X'],
  [0x00203404, 'Modifying Device Manufacturer', 'X'],
  [0x00203406, 'Modified Image Description', 'X'],
  [0x00204000, 'Image Comments', 'X'],
  [0x00209158, 'Frame Comments', 'X'],
  [0x00209161, 'Concatenation UID', 'U'],
  [0x00209164, 'Dimension Organization UID', 'U'],
  [0x00281199, 'Palette Color Lookup Table UID', 'U'],
  [0x00281214, 'Large Palette Color Lookup Table UID', 'U'],
  [0x00280303, 'Longitudinal Temporal Information Modified (rewritten)', 'X'],
  [0x00284000, 'Image Presentation Comments', 'X'],
  [0x00320012, 'Study ID Issuer', 'X'],
  [0x00320032, 'Study Verified Date', 'X'],
  [0x00320034, 'Study Read Date', 'X'],
  [0x00321000, 'Scheduled Study Start Date', 'X'],
  [0x00321001, 'Scheduled Study Start Time', 'X'],
  [0x00321020, 'Scheduled Study Location', 'X'],
  [0x00321021, 'Scheduled Study Location AE Title', 'X'],
  [0x00321030, 'Reason for Study', 'X'],
  [0x00321032, 'Requesting Physician', 'X'],
  [0x00321033, 'Requesting Service', 'X'],
  [0x00321040, 'Study Arrival Date', 'X'],
  [0x00321041, 'Study Arrival Time', 'X'],
  [0x00321050, 'Study Completion Date', 'X'],
  [0x00321051, 'Study Completion Time', 'X'],
  [0x00321060, 'Requested Procedure Description', 'X'],
  [0x00321070, 'Requested Contrast Agent', 'X'],
  [0x00324000, 'Study Comments', 'X'],
  [0x00380004, 'Referenced Patient Alias Sequence', 'X'],
  [0x00380010, 'Admission ID', 'X'],
  [0x00380011, 'Issuer of Admission ID', 'X'],
  [0x0038001e, 'Scheduled Patient Institution Residence', 'X'],
  [0x00380020, 'Admitting Date', 'X'],
  [0x00380021, 'Admitting Time', 'X'],
  [0x00380030, 'Discharge Date', 'X'],
  [0x00380032, 'Discharge Time', 'X'],
  [0x00380040, 'Discharge Diagnosis Description', 'X'],
  [0x00380050, 'Special Needs', 'X'],
  [0x00380060, 'Service Episode ID', 'X'],
  [0x00380061, 'Issuer of Service Episode ID', 'X'],
  [0x00380062, 'Service Episode Description', 'X'],
  [0x00380300, 'Current Patient Location', 'X'],
  [0x00380400, "Patient's Institution Residence", 'X'],
  [0x00380500, 'Patient State', 'X'],
  [0x00384000, 'Visit Comments', 'X'],
  [0x00400001, 'Scheduled Station AE Title', 'X'],
  [0x00400002, 'Scheduled Procedure Step Start Date', 'X'],
  [0x00400003, 'Scheduled Procedure Step Start Time', 'X'],
  [0x00400004, 'Scheduled Procedure Step End Date', 'X'],
  [0x00400005, 'Scheduled Procedure Step End Time', 'X'],
  [0x00400006, 'Scheduled Performing Physician Name', 'X'],
  [0x00400007, 'Scheduled Procedure Step Description', 'X'],
  [0x0040000b, 'Scheduled Performing Physician Identification Sequence', 'X'],
  [0x00400010, 'Scheduled Station Name', 'X'],
  [0x00400011, 'Scheduled Procedure Step Location', 'X'],
  [0x00400241, 'Performed Station AE Title', 'X'],
  [0x00400242, 'Performed Station Name', 'X'],
  [0x00400243, 'Performed Location', 'X'],
  [0x00400244, 'Performed Procedure Step Start Date', 'X'],
  [0x00400245, 'Performed Procedure Step Start Time', 'X'],
  [0x00400250, 'Performed Procedure Step End Date', 'X'],
  [0x00400251, 'Performed Procedure Step End Time', 'X'],
  [0x00400253, 'Performed Procedure Step ID', 'X'],
  [0x00400254, 'Performed Procedure Step Description', 'X'],
  [0x00400275, 'Request Attributes Sequence', 'X'],
  [0x00400280, 'Comments on the Performed Procedure Step', 'X'],
  [0x00400555, 'Acquisition Context Sequence', 'X'],
  [0x00401001, 'Requested Procedure ID', 'X'],
  [0x00401010, 'Names of Intended Recipients of Results', 'X'],
  [0x00401011, 'Intended Recipients of Results Identification Sequence', 'X'],
  [0x00401101, 'Person Identification Code Sequence', 'X'],
  [0x00401102, "Person's Address", 'X'],
  [0x00401103, "Person's Telephone Numbers", 'X'],
  [0x00401400, 'Requested Procedure Comments', 'X'],
  [0x00402001, 'Reason for the Imaging Service Request', 'X'],
  [0x00402008, 'Order Entered By', 'X'],
  [0x00402009, "Order Enterer's Location", 'X'],
  [0x00402010, 'Order Callback Phone Number', 'X'],
  [0x00402016, 'Placer Order Number / Imaging Service Request', 'X'],
  [0x00402017, 'Filler Order Number / Imaging Service Request', 'X'],
  [0x00402400, 'Imaging Service Request Comments', 'X'],
  [0x00403001, 'Confidentiality Constraint on Patient Data Description', 'X'],
  [0x0040a027, 'Verifying Organization', 'X'],
  [0x0040a030, 'Verification DateTime', 'X'],
  [0x0040a032, 'Observation DateTime', 'X'],
  [0x0040a073, 'Verifying Observer Sequence', 'X'],
  [0x0040a075, 'Verifying Observer Name', 'X'],
  [0x0040a078, 'Author Observer Sequence', 'X'],
  [0x0040a07a, 'Participant Sequence', 'X'],
  [0x0040a07c, 'Custodial Organization Sequence', 'X'],
  [0x0040a088, 'Verifying Observer Identification Code Sequence', 'X'],
  [0x0040a120, 'DateTime', 'X'],
  [0x0040a121, 'Date', 'X'],
  [0x0040a122, 'Time', 'X'],
  [0x0040a123, 'Person Name', 'X'],
  [0x0040a124, 'UID', 'U'],
  [0x0040a730, 'Content Sequence', 'X'],
  [0x0040db0c, 'Template Extension Organization UID', 'U'],
  [0x0040db0d, 'Template Extension Creator UID', 'U'],
  [0x00700001, 'Graphic Annotation Sequence', 'X'],
  [0x00700084, "Content Creator's Name", 'Z'],
  [0x00700086, "Content Creator's Identification Code Sequence", 'X'],
  [0x00880140, 'Storage Media File-set UID', 'U'],
  [0x00880200, 'Icon Image Sequence', 'X'],
  [0x00880906, 'Topic Subject', 'X'],
  [0x00880910, 'Topic Author', 'X'],
  [0x00880912, 'Topic Keywords', 'X'],
  [0x04000100, 'Digital Signature UID', 'X'],
  [0x04000402, 'Referenced Digital Signature Sequence', 'X'],
  [0x04000403, 'Referenced SOP Instance MAC Sequence', 'X'],
  [0x04000404, 'MAC', 'X'],
  [0x04000550, 'Modified Attributes Sequence', 'X'],
  [0x04000561, 'Original Attributes Sequence', 'X'],
  [0x20300020, 'Text String', 'X'],
  [0x30060024, 'Referenced Frame of Reference UID', 'U'],
  [0x300600c2, 'Related Frame of Reference UID', 'U'],
  [0x300a0013, 'Dose Reference UID', 'U'],
  [0x40000010, 'Arbitrary', 'X'],
  [0x40004000, 'Text Comments', 'X'],
  [0x40080042, 'Results ID Issuer', 'X'],
  [0x40080102, 'Interpretation Recorder', 'X'],
  [0x4008010a, 'Interpretation Transcriber', 'X'],
  [0x4008010b, 'Interpretation Text', 'X'],
  [0x4008010c, 'Interpretation Author', 'X'],
  [0x40080111, 'Interpretation Approver Sequence', 'X'],
  [0x40080114, 'Physician Approving Interpretation', 'X'],
  [0x40080115, 'Interpretation Diagnosis Description', 'X'],
  [0x40080118, 'Results Distribution List Sequence', 'X'],
  [0x40080119, 'Distribution Name', 'X'],
  [0x4008011a, 'Distribution Address', 'X'],
  [0x40080202, 'Interpretation ID Issuer', 'X'],
  [0x40080300, 'Impressions', 'X'],
  [0x40084000, 'Results Comments', 'X'],
  [0xfffafffa, 'Digital Signatures Sequence', 'X'],
  [0xfffcfffc, 'Data Set Trailing Padding', 'X'],
];

/** UI attributes kept as they are even when not DICOM-defined: they name classes and schemes, not instances. */
const KEEP_UIDS = new Set([0x00080016, 0x00081150, 0x00080062, 0x0008010c, 0x00080117, 0x00081490, 0x0040a170]);

/** File meta elements dropped: they name the sending and receiving systems or carry private data. */
const DROPPED_META = new Set([0x00020000, 0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102]);

/** What de-identification here does not do; the README says the same. */
export const DEIDENTIFICATION_LIMITS = [
  'Burned-in text in the pixels (common in ultrasound, secondary capture and scanned documents) is not removed: the pixel data is copied byte for byte.',
  'Text inside compressed pixel streams (JPEG comment or application segments) is kept, for the same reason.',
  'Free text in kept attributes (for example Image Type, code meanings) is not scanned for names.',
  'No retain option of PS3.15 Table E.1-1 is offered: dates are removed or emptied, not shifted; device, institution and descriptions are removed.',
  'Public attributes of VR UN are removed (their content cannot be read). In implicit VR files the VR is unknown, ' +
    'so only the attributes of the table are handled there (no catch-all for other names, dates and UIDs).',
];

const ACTIONS = new Map(BASIC_PROFILE.map(([tag, , action]) => [tag, action]));

export interface DeidentificationReport {
  /** Attributes removed (by name where known), with their count. */
  removed: Record<string, number>;
  emptied: Record<string, number>;
  uidsReplaced: number;
  privateRemoved: number;
  warnings: string[];
}

/** A fresh UID: '2.25.' and the decimal value of a random (version 4) UUID (PS3.5 B.2). */
function newUid(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return `2.25.${n.toString()}`;
}

const EXTENDED_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const latin1 = (bytes: Uint8Array) => Array.from(bytes, (b) => String.fromCharCode(b)).join('');
const textBytes = (s: string, pad: number) => {
  const out = new Uint8Array(s.length + (s.length % 2));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  if (s.length % 2) out[s.length] = pad;
  return out;
};

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  constructor(
    readonly littleEndian: boolean,
    readonly explicit: boolean,
  ) {}

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private number(value: number, size: 2 | 4): void {
    const b = new Uint8Array(size);
    const v = new DataView(b.buffer);
    if (size === 2) v.setUint16(0, value, this.littleEndian);
    else v.setUint32(0, value >>> 0, this.littleEndian);
    this.bytes(b);
  }

  tag(tag: number): void {
    this.number(tag >>> 16, 2);
    this.number(tag & 0xffff, 2);
  }

  /** An element header; `length` 0xffffffff for undefined length. */
  header(tag: number, vr: string, length: number): void {
    this.tag(tag);
    if (!this.explicit || (tag >>> 16) === 0xfffe) {
      this.number(length, 4);
      return;
    }
    this.bytes(Uint8Array.of(vr.charCodeAt(0), vr.charCodeAt(1)));
    if (EXTENDED_LENGTH_VRS.has(vr)) {
      this.number(0, 2);
      this.number(length, 4);
    } else {
      if (length > 0xffff) throw corrupt(`DICOM element ${tag.toString(16)} of VR ${vr} is too long to write (${length} bytes)`);
      this.number(length, 2);
    }
  }

  element(tag: number, vr: string, value: Uint8Array): void {
    this.header(tag, vr, value.length);
    this.bytes(value);
  }

  result(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

interface Context {
  uids: Map<string, string>;
  report: DeidentificationReport;
  explicit: boolean;
  littleEndian: boolean;
}

const count = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1;
};

const nameOf = (tag: number) => BASIC_PROFILE.find(([t]) => t === tag)?.[1] ?? tagName(`x${tag.toString(16).padStart(8, '0')}`);

function remapUids(value: string, ctx: Context): string {
  return value
    .replace(/[\0 ]+$/, '')
    .split('\\')
    .map((uid) => {
      const u = uid.trim();
      if (!u || u.startsWith('1.2.840.10008.')) return u;
      let mapped = ctx.uids.get(u);
      if (!mapped) {
        mapped = newUid();
        ctx.uids.set(u, mapped);
      }
      ctx.report.uidsReplaced++;
      return mapped;
    })
    .join('\\');
}

function actionFor(tag: number, element: Element, ctx: Context): DeidAction | 'K' {
  const group = tag >>> 16;
  const listed = ACTIONS.get(tag);
  if (listed) return listed;
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) return 'X';
  if (ctx.explicit && element.vr === 'UI' && !KEEP_UIDS.has(tag)) return 'U';
  if (ctx.explicit && element.vr === 'UN' && group !== 0x0028 && group !== 0x7fe0) return 'X';
  if (ctx.explicit && (element.vr === 'PN' || element.vr === 'DA' || element.vr === 'TM' || element.vr === 'DT')) return 'X';
  return 'K';
}

/** Writes a data set (or a sequence item's), applying the profile; elements in ascending tag order. */
function writeDataSet(ds: DataSet, w: Writer, ctx: Context, top: boolean): void {
  const entries = Object.values(ds.elements)
    .map((element) => ({ element, tag: parseInt(element.tag.slice(1), 16) }))
    .filter(({ tag }) => tag >>> 16 !== 0xfffe && tag >>> 16 !== 0x0002)
    .sort((a, b) => a.tag - b.tag);
  const added = top ? deidentificationAttributes() : [];
  let next = 0;
  const flushAdded = (before: number) => {
    while (next < added.length && added[next]!.tag < before) added[next++]!.write(w);
  };
  for (const { element, tag } of entries) {
    flushAdded(tag);
    const group = tag >>> 16;
    const vr = element.vr ?? 'UN';
    if ((tag & 0xffff) === 0) continue; // group lengths: retired, and no longer right
    if (group % 2 === 1) {
      ctx.report.privateRemoved++;
      continue;
    }
    const action = actionFor(tag, element, ctx);
    if (action === 'X') {
      count(ctx.report.removed, nameOf(tag));
      continue;
    }
    if (action === 'Z') {
      count(ctx.report.emptied, nameOf(tag));
      w.header(tag, vr, 0);
      continue;
    }
    const value = () => ds.byteArray.subarray(element.dataOffset, element.dataOffset + element.length) as Uint8Array;
    if (action === 'U') {
      w.element(tag, ctx.explicit ? vr : 'UI', textBytes(remapUids(latin1(value()), ctx), 0));
      continue;
    }
    if (element.items) {
      w.header(tag, 'SQ', 0xffffffff);
      for (const item of element.items) {
        w.header(0xfffee000, '', 0xffffffff);
        if (item.dataSet) writeDataSet(item.dataSet, w, ctx, false);
        w.header(0xfffee00d, '', 0);
      }
      w.header(0xfffee0dd, '', 0);
      continue;
    }
    if (element.hadUndefinedLength) {
      if (tag !== 0x7fe00010 || !element.encapsulatedPixelData) {
        throw corrupt(`DICOM element ${tagName(element.tag)} has an undefined length but is neither a sequence nor pixel data`);
      }
      if (element.length === 0xffffffff || element.dataOffset + element.length > ds.byteArray.length) {
        throw corrupt('DICOM pixel data is truncated: the encapsulated pixel data ends without its sequence delimiter (FFFE,E0DD)');
      }
      // encapsulated pixel data: offset table, fragments and delimiter, byte for byte
      w.header(tag, vr, 0xffffffff);
      w.bytes(value());
      continue;
    }
    if (element.dataOffset + element.length > ds.byteArray.length) {
      throw corrupt(`DICOM element ${tagName(element.tag)} is truncated: ${element.length} bytes declared`);
    }
    w.element(tag, vr, value());
  }
  flushAdded(Infinity);
}

/** Patient Identity Removed, De-identification Method and its code, Longitudinal Temporal Information Modified. */
function deidentificationAttributes(): { tag: number; write: (w: Writer) => void }[] {
  const text = (s: string) => textBytes(s, 0x20);
  return [
    { tag: 0x00120062, write: (w) => w.element(0x00120062, 'CS', text('YES')) },
    { tag: 0x00120063, write: (w) => w.element(0x00120063, 'LO', text('MedClass PS3.15 E.1 Basic Profile')) },
    {
      tag: 0x00120064,
      write: (w) => {
        w.header(0x00120064, 'SQ', 0xffffffff);
        w.header(0xfffee000, '', 0xffffffff);
        w.element(0x00080100, 'SH', text('113100'));
        w.element(0x00080102, 'SH', text('DCM'));
        w.element(0x00080104, 'LO', text('Basic Application Confidentiality Profile'));
        w.header(0xfffee00d, '', 0);
        w.header(0xfffee0dd, '', 0);
      },
    },
    // dates are removed, not shifted (PS3.15 E.3.6)
    { tag: 0x00280303, write: (w) => w.element(0x00280303, 'CS', text('REMOVED')) },
  ];
}

function writeMeta(meta: DataSet, ctx: Context): Uint8Array {
  const body = new Writer(true, true);
  const entries = Object.values(meta.elements)
    .map((element) => ({ element, tag: parseInt(element.tag.slice(1), 16) }))
    .sort((a, b) => a.tag - b.tag);
  for (const { element, tag } of entries) {
    if (DROPPED_META.has(tag)) continue;
    const value = meta.byteArray.subarray(element.dataOffset, element.dataOffset + element.length) as Uint8Array;
    if (tag === 0x00020003) body.element(tag, 'UI', textBytes(remapUids(latin1(value), ctx), 0));
    else body.element(tag, element.vr ?? 'UN', value);
  }
  const rest = body.result();
  const out = new Writer(true, true);
  out.bytes(new Uint8Array(128)); // a clean preamble
  out.bytes(Uint8Array.of(0x44, 0x49, 0x43, 0x4d));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, rest.length, true);
  out.element(0x00020000, 'UL', length);
  out.bytes(rest);
  return out.result();
}

/** Parses the whole file; a deflated data set is inflated under a cap taken from its header. */
function parseWhole(bytes: Uint8Array, limits: DecodeLimits): ParsedDicom {
  if (bytes.length > limits.maxBytes) {
    throw new MedclassError('imageTooLarge', `file is ${formatBytes(bytes.length)}, more than the limit of ${formatBytes(limits.maxBytes)}`);
  }
  const { transferSyntaxUID } = readMeta(bytes);
  let cap = 0;
  if (TRANSFER_SYNTAXES.get(transferSyntaxUID)?.deflated) {
    const header = parseDicomFile(bytes, { headerOnly: true, inflateCap: 0 });
    const pixel = header.ds.elements[PIXEL_DATA];
    let pixelBytes = 0;
    if (pixel) {
      const px = readPixelModule(header.ds);
      const total = px.rows * px.columns * px.numberOfFrames;
      if (total > limits.maxPixels) {
        throw new MedclassError('imageTooLarge', `DICOM declares ${formatCount(total)} pixels in all, more than the limit of ${formatCount(limits.maxPixels)}`);
      }
      pixelBytes = nativePixelDataBytes(px);
    }
    cap = (pixel?.dataOffset ?? 0) + pixelBytes + 16 * 2 ** 20;
  }
  return parseDicomFile(bytes, { headerOnly: false, inflateCap: cap });
}

/** De-identifies a DICOM Part 10 file; returns new Part 10 bytes and what was done. */
export function deidentifyWithReport(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): { bytes: Uint8Array; report: DeidentificationReport } {
  const parsed = parseWhole(bytes, limits);
  const syntax = parsed.syntax;
  const explicit = syntax?.explicit ?? true;
  const littleEndian = syntax?.littleEndian ?? true;
  const report: DeidentificationReport = { removed: {}, emptied: {}, uidsReplaced: 0, privateRemoved: 0, warnings: [] };
  const ctx: Context = { uids: new Map(), report, explicit, littleEndian };
  const burnedIn = parsed.ds.string('x00280301')?.trim().toUpperCase();
  if (burnedIn === 'YES') report.warnings.push('Burned In Annotation (0028,0301) is YES: identifying text may remain in the pixels');
  const modality = parsed.ds.string('x00080060')?.trim().toUpperCase();
  if (burnedIn !== 'NO' && modality && ['US', 'SC', 'OT', 'XC', 'DOC', 'ES'].includes(modality)) {
    report.warnings.push(`${modality} images often carry burned-in text, which is not removed`);
  }
  const w = new Writer(littleEndian, explicit);
  writeDataSet(parsed.ds, w, ctx, true);
  let dataSet = w.result();
  if (syntax?.deflated) dataSet = deflateSync(dataSet, { level: 6 });
  // the file meta last: Media Storage SOP Instance UID maps like SOP Instance UID
  const meta = writeMeta(parsed.meta, ctx);
  const out = new Uint8Array(meta.length + dataSet.length);
  out.set(meta, 0);
  out.set(dataSet, meta.length);
  return { bytes: out, report };
}

/** De-identifies a DICOM Part 10 file (PS3.15 Annex E basic profile); the pixel data is unchanged. */
export function deidentify(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Uint8Array {
  return deidentifyWithReport(bytes, limits).bytes;
}
