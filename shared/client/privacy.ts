import { findDecoder } from '../image/index.ts';
import type { ImageMode, PrivacyMode } from '../protocol/messages.ts';

export class PrivacyError extends Error {
  override name = 'PrivacyError';
}

/**
 * The mode an image is actually sent in. A DICOM file is never sent whole: its header
 * names the patient, so where the service would take the original, its reduced pixels (or
 * features) go instead, and a service that takes only originals cannot have it.
 */
export function sendingMode(bytes: Uint8Array, wanted: ImageMode, accepted: readonly PrivacyMode[]): ImageMode {
  if (wanted !== 'original' || findDecoder(bytes)?.format !== 'dicom') return wanted;
  const instead = (['reduced', 'features'] as const).find((m) => accepted.includes(m));
  if (!instead) throw new PrivacyError('DICOM files are never sent whole (their header identifies the patient), and this service takes only original files');
  return instead;
}
