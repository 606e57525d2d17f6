/**
 * A new version of the app waits for the user's consent: the service worker is registered
 * with registerType 'prompt', so a changed bundle is installed but does not take over until
 * the user presses "Update" (docs/protocol.md section 7: new code never takes over silently).
 */
import { registerSW } from 'virtual:pwa-register';

export const update = $state<{ available: boolean }>({ available: false });

let apply: ((reload?: boolean) => Promise<void>) | null = null;

export function startServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  apply = registerSW({
    immediate: true,
    onNeedRefresh: () => {
      update.available = true;
    },
  });
}

/** The user accepted: the waiting version takes over and the page reloads. */
export async function acceptUpdate(): Promise<void> {
  update.available = false;
  await apply?.(true);
}
