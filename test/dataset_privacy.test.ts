/**
 * Issue 11 section 2: a ZIP as a PACS export leaves it (`benign/a.png` beside
 * `benign/DOE_JANE/IM0001.dcm`), with a patient list and a report beside the images, is
 * read and packed by the admin page's own functions (client/admin/dataset.ts) and uploaded
 * to a real server over the channel, then trained on. Nothing the server received (the ZIP
 * sent, its data folder, its log, the training report) holds the patients' names, IDs,
 * birth dates or UIDs; the server refuses the ZIP as picked, for its patient folder.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { encode as encodeJpeg } from 'jpeg-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZipBytes, zipDataset } from '../client/admin/dataset.ts';
import { loggedInClient } from './channel_login.ts';
import { createMedclassServer, type MedclassServer } from '../server/server.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { dicomParser } from '../shared/image/dicom/parse.ts';
import { decodeImage } from '../shared/image/index.ts';
import { containsText } from './dicom_helpers.ts';
import { concat } from '../shared/bytes.ts';
import { pngChunk } from './hostile_files.ts';
import { dataset } from './golden.ts';

const PASSWORD = 'an admin password for the privacy test';
const DICOM = dataset('dicom');
const BREAST = dataset('breastmnist');
const IDENTIFYING = {
  x00100010: 'PatientName',
  x00100020: 'PatientID',
  x00100030: 'PatientBirthDate',
  x0020000d: 'StudyInstanceUID',
  x0020000e: 'SeriesInstanceUID',
  x00080018: 'SOPInstanceUID',
  x00080050: 'AccessionNumber',
} as const;

/** The identifying values of a DICOM file (values under 4 characters would match anywhere by chance). */
function identifiers(bytes: Uint8Array): string[] {
  const ds = dicomParser.parseDicom(bytes);
  return Object.keys(IDENTIFYING).flatMap((tag) => {
    const value = ds.string(tag)?.trim();
    return value && value.length >= 4 ? [value] : [];
  });
}

const read = (path: string) => new Uint8Array(readFileSync(path));
const pngs = (label: string, n: number) =>
  readdirSync(join(BREAST, 'train', label))
    .sort()
    .slice(0, n)
    .map((f) => [f, read(join(BREAST, 'train', label, f))] as const);

const ct = read(join(DICOM, 'CT_small.dcm'));
const mr = read(join(DICOM, 'MR_small.dcm'));
const us = read(join(DICOM, 'US1_UNCR.dcm'));
const SECRETS = [...new Set([...identifiers(ct), ...identifiers(mr), ...identifiers(us), 'DOE_JANE', 'DOE^JANE', 'MRN 0042-1337', '1962-03-04'])];

/** A PNG with a tEXt chunk after its header. */
function withPngText(png: Uint8Array, text: string): Uint8Array {
  const ihdrEnd = 8 + 12 + 13;
  return concat(png.subarray(0, ihdrEnd), pngChunk('tEXt', new TextEncoder().encode(text)), png.subarray(ihdrEnd));
}

/** A JPEG with a comment (COM) and an EXIF-like APP1 segment naming the patient, after its SOI. */
function withJpegText(jpg: Uint8Array): Uint8Array {
  const segment = (marker: number, text: string) => {
    const body = new TextEncoder().encode(text);
    return concat(Uint8Array.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255]), body);
  };
  return concat(jpg.subarray(0, 2), segment(0xfe, 'DOE^JANE'), segment(0xe1, 'Exif\0\0MRN 0042-1337 1962-03-04'), jpg.subarray(2));
}

const jpeg = (() => {
  const g = decodeImage(pngs('1', 13)[12]![1]);
  const rgba = new Uint8Array(g.width * g.height * 4);
  g.data.forEach((v, i) => rgba.set([v * 255, v * 255, v * 255, 255], 4 * i));
  return new Uint8Array(encodeJpeg({ width: g.width, height: g.height, data: rgba }, 90).data);
})();

/** The files as the admin has them: a PACS export with images, a patient folder, a list and a report. */
const pickedFiles: Record<string, Uint8Array> = {
  ...Object.fromEntries(pngs('0', 12).map(([f, b]) => [`export/benign/${f}`, b])),
  ...Object.fromEntries(pngs('1', 12).map(([f, b]) => [`export/malignant/${f}`, b])),
  'export/benign/a.png': pngs('0', 13)[12]![1],
  'export/benign/DOE_JANE/IM0001.dcm': ct,
  'export/malignant/IM0002.dcm': mr,
  'export/malignant/scan.png': us, // a DICOM file by its content, whatever its name
  'export/malignant/notes.png': new TextEncoder().encode('DOE^JANE, MRN 0042-1337, born 1962-03-04'),
  // a PNG with the patient in a text chunk, a JPEG with the patient in a comment and in an APP1 segment
  'export/benign/labelled.png': withPngText(pngs('0', 14)[13]![1], 'Patient\0DOE^JANE MRN 0042-1337'),
  'export/malignant/photo.jpg': withJpegText(jpeg),
  'export/patients.csv': new TextEncoder().encode('name,mrn,birth\nDOE^JANE,MRN 0042-1337,1962-03-04\n'),
  'export/benign/report.txt': new TextEncoder().encode('Report for DOE^JANE (MRN 0042-1337)'),
};
const picked = zipSync(pickedFiles as Zippable);
const found = (haystack: Uint8Array) => SECRETS.filter((s) => containsText(haystack, s));

let work: string;
let server: MedclassServer;
let url: string;
let log = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'medclass-dataset-privacy-'));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      log += chunk.toString();
      done();
    },
  });
  server = await createMedclassServer({ dataDir: join(work, 'data'), adminPassword: PASSWORD, demo: false, threads: 1, logger: pino({ level: 'debug' }, sink) });
  url = await server.app.listen({ port: 0, host: '127.0.0.1' });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function admin(): Promise<MedclassClient> {
  return loggedInClient({ url, pin: server.pin }, 'admin', PASSWORD);
}

/** Every file under a folder, read. */
const filesUnder = (dir: string): Uint8Array[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => read(join(e.parentPath, e.name)));

describe('a PACS-export ZIP, through the admin page and a real server', () => {
  it('has patient data to find (the test would see it)', () => {
    const raw = zipSync({ 'a.dcm': [ct, { level: 0 }], 'b.dcm': [mr, { level: 0 }], 'c.dcm': [us, { level: 0 }] } as Zippable);
    const inRaw = SECRETS.filter((s) => containsText(raw, s));
    expect(inRaw.length).toBeGreaterThanOrEqual(8);
    expect(inRaw).toEqual(expect.arrayContaining([...identifiers(ct), ...identifiers(mr), ...identifiers(us)]));
  });

  it('the page keeps only the images directly in class folders, de-identifies the DICOM ones and packs exactly those', () => {
    const d = readZipBytes('export.zip', picked);
    const sent = unzipSync(zipDataset(d));
    expect(Object.keys(sent).sort()).toEqual(d.images.map((i) => i.path).sort());
    expect(d.images).toHaveLength(29);
    expect(Object.keys(sent)).toEqual(expect.arrayContaining(['benign/a.png', 'malignant/IM0002.dcm', 'malignant/scan.png', 'benign/labelled.png', 'malignant/photo.jpg']));
    // metadata gone, pixels the same
    for (const [name, original] of [['benign/labelled.png', pickedFiles['export/benign/labelled.png']!], ['malignant/photo.jpg', pickedFiles['export/malignant/photo.jpg']!]] as const) {
      expect(found(sent[name]!), name).toEqual([]);
      expect(found(original), name).not.toEqual([]);
      expect(Array.from(decodeImage(sent[name]!).data)).toEqual(Array.from(decodeImage(original).data));
    }
    expect(d.skipped).toEqual(
      expect.arrayContaining([
        'export/patients.csv (not .png, .jpg, .jpeg, .dcm or .dicom)',
        'export/benign/report.txt (not .png, .jpg, .jpeg, .dcm or .dicom)',
        'export/benign/DOE_JANE/IM0001.dcm (in a folder inside its class folder)',
        'export/malignant/notes.png (not a PNG, JPEG or DICOM Part 10 file by its content)',
      ]),
    );
    // the DICOM files went through de-identification (Patient Identity Removed is YES)
    for (const name of ['malignant/IM0002.dcm', 'malignant/scan.png']) expect(dicomParser.parseDicom(sent[name]!).string('x00120062')).toBe('YES');
  });

  it('sends nothing identifying; the server trains on it and keeps nothing identifying; the ZIP as picked is refused', async () => {
    const zip = zipDataset(readZipBytes('export.zip', picked));
    expect(found(zip)).toEqual([]);
    const client = await admin();
    try {
      // the ZIP as picked (what the page used to send when it held no DICOM file it kept)
      await expect(client.uploadDataset(picked, { name: 'export.zip' })).rejects.toMatchObject({
        code: 'invalidDataset',
        message: expect.stringMatching(/DOE_JANE\/IM0001\.dcm is in a folder inside a class folder/),
      });
      const uploadId = await client.uploadDataset(zip, { name: 'export.zip', files: 29 });
      const { report } = await client.train(uploadId, { features: ['hogMean', 'glcmContrast'], size: 32, levels: 32, orientations: 9, pixelsPerCell: 8, cellsPerBlock: 2 }, { kind: 'knn', k: 1 });
      expect(report).toMatchObject({ dataset: { labels: ['benign', 'malignant'] } });
      const text = new TextEncoder().encode(JSON.stringify(report));
      expect(found(text)).toEqual([]);
    } finally {
      client.close();
    }
    const stored = filesUnder(join(work, 'data'));
    expect(stored.length).toBeGreaterThanOrEqual(2);
    for (const f of stored) expect(found(f)).toEqual([]);
    expect(found(new TextEncoder().encode(log))).toEqual([]);
    expect(log).toMatch(/dataset uploaded/);
  }, 240_000);
});
