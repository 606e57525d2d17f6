/**
 * Result notifications: the system's when the user allowed them and the page is hidden,
 * an in-app toast (role=status) otherwise. A system notification says only that results are
 * ready: it can show on a locked screen, so it carries no file name and no label.
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

/** Results arriving together share one toast, which counts them and shows the latest. */
let burst: { id: number; count: number } | null = null;

function resultToast(title: string, detail: string): void {
  const shown = burst && toasts.find((t) => t.id === burst!.id);
  if (burst && shown) {
    burst.count++;
    shown.title = `${burst.count} results ready`;
    shown.text = `Latest: ${detail}`;
    keep(burst.id, SHOWN_MS);
    return;
  }
  burst = { id: toast(title, detail, 'result'), count: 1 };
}

let unseen = 0;
addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') unseen = 0;
});

async function systemNotification(body: string): Promise<boolean> {
  const options: NotificationOptions = { body, icon: '/icon-192.png', badge: '/icon-192.png', tag: 'medclass-results' };
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

/** A result arrived: `detail` (file and label) goes to the in-app toast only. */
export async function notifyResult(title: string, detail: string): Promise<void> {
  if (supported && Notification.permission === 'granted' && document.visibilityState === 'hidden') {
    unseen++;
    if (await systemNotification(unseen === 1 ? 'A classification result is ready.' : `${unseen} classification results are ready.`)) return;
  }
  resultToast(title, detail);
}

export async function askForNotifications(): Promise<void> {
  if (!supported) return;
  notifications.permission = await Notification.requestPermission();
}
