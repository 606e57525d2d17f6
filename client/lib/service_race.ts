/**
 * A classify request that raced a change of its service (a publish, a rollback): prepared on
 * this device for one model version (resized, or its features extracted, to that version's
 * spec), then answered by another version or refused by it. The workbench redoes such a
 * request once against the new version while it still holds the file; otherwise it says so in
 * plain words.
 */
import type { ImageResult } from '../../shared/client/client.ts';
import type { ImageMode, ServiceInfo } from '../../shared/protocol/messages.ts';

/** Refusals that mean the image no longer fits the service as it is now. */
const CHANGED_SERVICE = new Set(['invalidSpec', 'modeNotAllowed']);

/** What leaves the device, least first. */
const PRIVACY_ORDER: readonly ImageMode[] = ['features', 'reduced', 'original'];

/**
 * Whether an answer says the job met another version than the one it was prepared for: a
 * result of another version, or a refusal of its spec or mode. Jobs queued before versions
 * were recorded (`preparedFor` unknown) never count.
 */
export function raced(preparedFor: number | undefined, answer: ImageResult | { ok: false; code: string }): boolean {
  if (preparedFor === undefined) return false;
  return answer.ok ? answer.modelVersion !== preparedFor : CHANGED_SERVICE.has(answer.code);
}

/**
 * The mode to redo a job in: the one chosen, if the new version still takes it, else the
 * nearest one that sends less; never one that sends more than the user chose (null then).
 */
export function redoMode(chosen: ImageMode, service: Pick<ServiceInfo, 'privacyModes'>): ImageMode | null {
  if (service.privacyModes.includes(chosen)) return chosen;
  const limit = PRIVACY_ORDER.indexOf(chosen);
  return [...PRIVACY_ORDER.slice(0, limit)].reverse().find((m) => service.privacyModes.includes(m)) ?? null;
}

/** Why a raced job was not redone, in words the clinician can act on. */
export function notRedoneMessage(
  why: 'noFile' | 'again' | 'wider' | 'gone',
  job: { service: string; version?: number | undefined; mode: ImageMode },
  now: Pick<ServiceInfo, 'version' | 'privacyModes'> | null,
): string {
  const change = now && job.version !== undefined ? `${job.service} changed from version ${job.version} to ${now.version}` : `${job.service} changed`;
  switch (why) {
    case 'gone':
      return `${job.service} is no longer offered, so this image was not classified.`;
    case 'wider':
      return `${change} while this image was on its way, and the new version takes only ${now!.privacyModes.filter((m) => m !== 'device').join(', ')}: more than the ${job.mode} data you chose, so nothing was sent again. Choose the file again if you agree to that.`;
    case 'noFile':
      return `${change} while this image was waiting, so it was not classified: it had been prepared for the old version. Choose the file again to classify it with version ${now?.version ?? 'the new version'}.`;
    case 'again':
      return `${change} twice while this image was on its way, so it was not classified. Try again to send it to version ${now?.version ?? 'now current'}.`;
  }
}
