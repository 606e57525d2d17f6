import type { PrivacyMode, ServiceInfo } from '../../shared/protocol/messages.ts';

/**
 * The modes offered for a service: the reduced image first (the default), the features, and
 * the original file only when the service takes nothing else.
 */
export function modesFor(service: Pick<ServiceInfo, 'privacyModes'>): PrivacyMode[] {
  const reducing = (['reduced', 'features'] as const).filter((m) => service.privacyModes.includes(m));
  return reducing.length ? reducing : ['original'];
}

export const defaultMode = (service: Pick<ServiceInfo, 'privacyModes'>): PrivacyMode => modesFor(service)[0]!;
