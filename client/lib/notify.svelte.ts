/**
 * Result and failure notifications: the system's when the user allowed them and the page is
 * hidden, an in-app toast (role=status) always for failures, otherwise for results. A system
 * notification says only that results are ready (or that images failed): it can show on a
 * locked screen, so it carries no file name and no label.
 */
export interface Toast {
  id: number;
  title: string;
  text: string;
  tone: 'result' | 'info' | 'error';
}

const supported = typeof Notification !== 'undefined';

export const toasts = $state<Toast[]>([]);
export const notifications = $state({ permission: (supported ? Notification.permission : 'unsupported') as NotificationPermission | 'unsupported' });

let next = 0;
const VISIBLE = 3;
const SHOWN_MS = 6000;
const timers: Record<number, ReturnType<typeof setTimeout>> = {};

export function dismiss(id: number): void {
  clearTimeout(timers[id]);
  delete timers[id];
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

function keep(id: number, ms: number): void {
  clearTimeout(timers[id]);
  if (ms > 0) timers[id] = setTimeout(() => dismiss(id), ms);
}

export function toast(title: string, text: string, tone: Toast['tone'] = 'info', ms = SHOWN_MS): number {
  const id = ++next;
  toasts.push({ id, title, text, tone });
  while (toasts.length > VISIBLE) dismiss(toasts[0]!.id);
  keep(id, ms);
  return id;
}

/** Results (or failures) arriving together share one toast, which counts them and shows the latest. */
const bursts: Partial<Record<'result' | 'error', { id: number; count: number }>> = {};
const BURST_TITLE = { result: (n: number) => `${n} results ready`, error: (n: number) => `${n} images not classified` };

function burstToast(tone: 'result' | 'error', title: string, detail: string): void {
  const burst = bursts[tone];
  const shown = burst && toasts.find((t) => t.id === burst.id);
  if (burst && shown) {
    burst.count++;
    shown.title = BURST_TITLE[tone](burst.count);
    shown.text = `Latest: ${detail}`;
    keep(burst.id, SHOWN_MS);
    return;
  }
  // a failure stays until dismissed: on a phone it may come while the user looks elsewhere
  bursts[tone] = { id: toast(title, detail, tone, tone === 'error' ? 0 : SHOWN_MS), count: 1 };
}

const unseen = { result: 0, error: 0 };
addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') unseen.result = unseen.error = 0;
});

async function systemNotification(body: string, tag: string): Promise<boolean> {
  const options: NotificationOptions = { body, icon: '/icon-192.png', badge: '/icon-192.png', tag };
  try {
    // mobile browsers only show notifications through the service worker
    const registration = await navigator.serviceWorker?.getRegistration();
    if (registration) await registration.showNotification('MedClass', options);
    else new Notification('MedClass', options);
    return true;
  } catch {
    return false;
  }
}

const hiddenAndAllowed = () => supported && Notification.permission === 'granted' && document.visibilityState === 'hidden';

/** A result arrived: `detail` (file and label) goes to the in-app toast only. */
export async function notifyResult(title: string, detail: string): Promise<void> {
  if (hiddenAndAllowed()) {
    const n = ++unseen.result;
    if (await systemNotification(n === 1 ? 'A classification result is ready.' : `${n} classification results are ready.`, 'medclass-results')) return;
  }
  burstToast('result', title, detail);
}

/** An image was not classified: `detail` (file and why) goes to the in-app toast only. */
export async function notifyFailure(title: string, detail: string): Promise<void> {
  if (hiddenAndAllowed()) {
    const n = ++unseen.error;
    await systemNotification(n === 1 ? 'An image could not be classified.' : `${n} images could not be classified.`, 'medclass-failures');
  }
  // the toast too: it is what the user sees on coming back
  burstToast('error', title, detail);
}

export async function askForNotifications(): Promise<void> {
  if (!supported) return;
  notifications.permission = await Notification.requestPermission();
}
