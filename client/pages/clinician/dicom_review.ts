/**
 * DICOM files are shown to the clinician before anything of them is sent: what was read
 * from the header and the windowed first frame, as the service will receive it.
 */
import { PrivacyError, sendingMode } from '../../../shared/client/privacy.ts';
import type { PrivacyMode, ServiceInfo } from '../../../shared/protocol/messages.ts';
import { decodeImageAsync, findDecoder, readDicomInfo, type DicomInfo } from '../../lib/decoding.ts';

export interface DicomPreview {
  id: number;
  file: File;
  bytes: Uint8Array;
  info: DicomInfo;
  /** The first frame as windowed (docs/features.md section 1), as a PNG data URL. */
  image: string;
  width: number;
  height: number;
}

/** Whether a file is DICOM Part 10, from its first 132 bytes ('DICM' after the preamble). */
export async function isDicomFile(file: File): Promise<boolean> {
  const head = new Uint8Array(await file.slice(0, 132).arrayBuffer());
  return findDecoder(head)?.format === 'dicom';
}

let next = 0;

/** Reads a DICOM file on this device: its header facts, and its first frame windowed, for display. */
export async function readDicomPreview(file: File): Promise<DicomPreview> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const info = readDicomInfo(bytes);
  const grey = await decodeImageAsync(bytes);
  const { thumbnailOf } = await import('../../lib/reduce.ts');
  return { id: ++next, file, bytes, info, image: thumbnailOf(grey, 320), width: grey.width, height: grey.height };
}

/** What of a DICOM file leaves this device in the chosen mode, in words, or why it cannot go. */
export function dicomLeaves(preview: DicomPreview, mode: PrivacyMode, service: ServiceInfo): { ok: boolean; text: string } {
  if (mode === 'device') return { ok: true, text: 'Leaves this device: nothing. It is classified here, with the model downloaded for this service.' };
  try {
    const actual = sendingMode(preview.bytes, mode, service.privacyModes);
    const size = service.spec.size;
    const what = actual === 'features' ? 'only the feature values computed from it' : `only its grey pixels${size ? `, resized to ${size} × ${size}` : ''}`;
    const instead = mode === 'original' ? ' (never the whole file: its header names the patient)' : '';
    return { ok: true, text: `Leaves this device: ${what}, encrypted${instead}.` };
  } catch (e) {
    if (e instanceof PrivacyError) return { ok: false, text: `Cannot be sent: ${e.message}.` };
    throw e;
  }
}
