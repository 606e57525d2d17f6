import type { PrivacyMode, ServiceInfo } from '../../shared/protocol/messages.ts';

/**
 * The modes offered for a service, those it allows in this order: the reduced image (the
 * default), the features, the original file, and on this device (its model downloaded here).
 * DICOM files never go whole whatever is chosen (shared/client/privacy.ts).
 */
export function modesFor(service: Pick<ServiceInfo, 'privacyModes'>): PrivacyMode[] {
  return (['reduced', 'features', 'original', 'device'] as const).filter((m) => service.privacyModes.includes(m));
}

export const defaultMode = (service: Pick<ServiceInfo, 'privacyModes'>): PrivacyMode => modesFor(service)[0] ?? 'reduced';
