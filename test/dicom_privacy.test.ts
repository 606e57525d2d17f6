import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareForService } from '../server/client/prepare.ts';
import { PrivacyError } from '../shared/client/privacy.ts';
import { DEFAULT_SPEC } from '../shared/features/spec.ts';
import { deidentify } from '../shared/image/dicom/deidentify.ts';
import { dicomParser } from '../shared/image/dicom/parse.ts';
import { encodeMessage, type PrivacyMode, type ServiceInfo } from '../shared/protocol/messages.ts';
import { containsText } from './dicom_helpers.ts';
import { dataset } from './golden.ts';

/** Patient and study identifiers (name, ID, birth date, UIDs), read straight from the data set. (Not the
 * institution: in these files it is the scanner maker, whose name the profile rightly keeps.) */
const IDENTIFYING = {
  x00100010: 'PatientName',
  x00100020: 'PatientID',
  x00100030: 'PatientBirthDate',
  x0020000d: 'StudyInstanceUID',
  x0020000e: 'SeriesInstanceUID',
  x00080018: 'SOPInstanceUID',
  x00080050: 'AccessionNumber',
  x00080090: 'ReferringPhysicianName',
} as const;

function identifiers(bytes: Uint8Array): { name: string; value: string }[] {
  const ds = dicomParser.parseDicom(bytes);
  return Object.entries(IDENTIFYING).flatMap(([tag, name]) => {
    const value = ds.string(tag)?.trim();
    // values shorter than 4 characters would match by chance anywhere
    return value && value.length >= 4 ? [{ name, value }] : [];
  });
}

const FILES = ['CT_small.dcm', 'MR_small.dcm', 'JPEG2000.dcm', 'US1_UNCR.dcm', 'MR_small_RLE.dcm'];
const service = (modes: PrivacyMode[]): ServiceInfo => ({
  name: 'demo',
  description: '',
  version: 1,
  labels: ['a', 'b'],
  privacyModes: modes,
  spec: { ...DEFAULT_SPEC, features: [...DEFAULT_SPEC.features] },
});

describe('patient data stays on the device', () => {
  it.each(FILES)('%s: no identifying attribute is in any classify message the client sends', async (file) => {
    const bytes = new Uint8Array(readFileSync(join(dataset('dicom'), file)));
    const secrets = identifiers(bytes);
    expect(secrets.length, 'the file carries identifiers to look for').toBeGreaterThanOrEqual(3);
    for (const mode of ['original', 'reduced', 'features'] as const) {
      const image = await prepareForService(bytes, mode, service(['original', 'reduced', 'features']));
      // the whole envelope, as it is sealed: what would be sent, before encryption
      const wire = encodeMessage({ type: 'classify', requestId: 'r1', service: 'demo', images: [image] }, 'client');
      expect(image.mode, 'a DICOM file is never sent whole').not.toBe('original');
      for (const s of secrets) expect(containsText(wire, s.value), `${file} ${mode}: ${s.name}`).toBe(false);
      expect(containsText(wire, file), 'the file name').toBe(false);
    }
  });

  it('refuses a DICOM file for a service that takes only originals, rather than send its header', async () => {
    const bytes = new Uint8Array(readFileSync(join(dataset('dicom'), 'CT_small.dcm')));
    await expect(prepareForService(bytes, 'original', service(['original']))).rejects.toBeInstanceOf(PrivacyError);
  });

  it.each(FILES)('%s: a de-identified training upload holds none of them either', (file) => {
    const bytes = new Uint8Array(readFileSync(join(dataset('dicom'), file)));
    const secrets = identifiers(bytes);
    const clean = deidentify(bytes);
    for (const s of secrets) expect(containsText(clean, s.value), `${file}: ${s.name}`).toBe(false);
  });
});
