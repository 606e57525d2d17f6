/**
 * The clinician's jobs: each image is reduced on the device, sealed into the queue in
 * IndexedDB at once (so that closing the tab loses nothing), sent when the channel is ready,
 * and its result sealed into the history, in one transaction with leaving the queue.
 */
import { ClientError } from '../../shared/client/client.ts';
import { PROTOCOL_ERROR_CODES } from '../../shared/protocol/errors.ts';
import { SHUTTING_DOWN_CODE } from '../../shared/protocol/session_end.ts';
import type { ClassifyImage, ImageMode, PrivacyMode, ServiceInfo } from '../../shared/protocol/messages.ts';
import { channel } from './channel.svelte.ts';
import { deviceModels } from './device_models.svelte.ts';
import { notifyFailure, notifyResult } from './notify.svelte.ts';
import { notRedoneMessage, raced, redoMode } from './service_race.ts';
import { clearHistory, completeJob, getMeta, has, newId, put, readAll, remove, reopenVault, setMeta, vaultUnlocked, wipeVault } from './vault.ts';
import { onVaultOpen } from './vault_session.ts';

/** On this device (mode `device`), the network and server stages are 0 and extract and classify ran here. */
export interface StageTimings {
  /** On the device: decode, resize (and features). */
  reduceMs: number;
  /** The round trip less the server's own time: encryption here, the network, queuing. */
  networkMs: number;
  decryptMs: number;
  decodeMs: number;
  extractMs: number;
  classifyMs: number;
  totalMs: number;
}

/** One result as the history keeps it (sealed); mode `device`: classified on this device. */
export interface HistoryEntry {
  id: string;
  user: string;
  name: string;
  service: string;
  mode: PrivacyMode;
  sent: string;
  label: string;
  scores: Record<string, number>;
  modelVersion: number;
  timings: StageTimings;
  /** When the result arrived (ms since the epoch). */
  at: number;
  /** Only when the user opted in. */
  thumbnail?: string;
}

/** A job waiting to be sent (sealed). */
interface QueuedJob {
  id: string;
  user: string;
  name: string;
  service: string;
  mode: ImageMode;
  sent: string;
  image: ClassifyImage;
  reduceMs: number;
  createdAt: number;
  thumbnail?: string;
  /** The service version it was prepared for (absent in jobs queued by older releases). */
  version?: number;
  /** Prepared again once already, after racing a change of its service. */
  redone?: boolean;
}

export type JobState = 'reducing' | 'queued' | 'sending' | 'done' | 'failed';

export interface LogItem {
  id: string;
  name: string;
  service: string;
  mode: PrivacyMode;
  state: JobState;
  sent: string | null;
  /** Shown now; kept only when the user opted in. */
  thumbnail: string | null;
  entry: HistoryEntry | null;
  error: string | null;
  /** Whether the image reached the server (a failure before that sent nothing). */
  delivered: boolean;
  /** A failed job this page can send again from its file (it raced a change of its service). */
  retryable?: boolean;
}

/** Steps of a job, for its progress bar. */
export const STEPS: Record<JobState, number> = { reducing: 1, queued: 2, sending: 3, done: 4, failed: 4 };
export const STEP_COUNT = 4;

const MAX_IN_FLIGHT = 4;
/**
 * Failures worth another try later: the connection's (a ClientError with a channel code: the
 * request may never have arrived) and the server's load. A ProtocolError thrown here, before
 * sending (an image too large for a message), and the server's refusals are final.
 */
const retryLater = (e: unknown): boolean =>
  e instanceof ClientError && (Object.hasOwn(PROTOCOL_ERROR_CODES, e.code) || e.code === 'rateLimited' || e.code === 'busy' || e.code === SHUTTING_DOWN_CODE);
const RETRY_DELAY_MS = 3000;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

class Workbench {
  /** Newest first: jobs of this visit, then the history kept on the device. */
  items = $state<LogItem[]>([]);
  loaded = $state(false);
  /** Records that could not be opened (damaged, or sealed under a deleted key). */
  unreadable = $state(0);
  keepThumbnails = $state(false);

  private user: string | null = null;
  private readonly jobs = new Map<string, QueuedJob>();
  private readonly inFlight = new Set<string>();
  /** This visit's files by job, to prepare a job again if its service changes under it (never stored). */
  private readonly files = new Map<string, File>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;

  /** Logged in, waiting for the vault to open (after a reload offline, or before the channel is up). */
  private waitingFor: string | null = null;

  constructor() {
    channel.onReady(() => void this.pump());
    onVaultOpen(() => {
      const user = this.waitingFor;
      if (user) void this.load(user);
    });
  }

  get queued(): number {
    return this.items.filter((i) => i.state === 'queued' || i.state === 'sending').length;
  }

  get history(): LogItem[] {
    return this.items.filter((i) => i.state === 'done');
  }

  /** Loads this user's history and queue from the device, and sends what is queued. */
  async load(user: string): Promise<void> {
    if (this.user === user) return;
    this.unload();
    if (!vaultUnlocked() && !(await reopenVault())) {
      // opens once the channel has the user's vault key
      this.waitingFor = user;
      return;
    }
    this.waitingFor = null;
    this.user = user;
    void deviceModels.open();
    const [keep, history, queue] = await Promise.all([getMeta<boolean>('keepThumbnails'), readAll<HistoryEntry>('history'), readAll<QueuedJob>('queue')]);
    if (this.user !== user) return;
    this.keepThumbnails = keep ?? false;
    this.unreadable = history.unreadable + queue.unreadable;
    const waiting = queue.values.filter(({ value }) => value.user === user).map(({ value }) => {
      this.jobs.set(value.id, value);
      return this.itemOf(value, 'queued');
    });
    const done = history.values
      .filter(({ value }) => value.user === user)
      .map(({ value }): LogItem => ({ ...this.itemOf(value, 'done'), entry: value, thumbnail: value.thumbnail ?? null }));
    this.items = [...waiting.reverse(), ...done.reverse(), ...this.items];
    this.loaded = true;
    void this.pump();
  }

  unload(): void {
    deviceModels.close();
    this.user = null;
    this.waitingFor = null;
    this.items = [];
    this.jobs.clear();
    this.files.clear();
    this.loaded = false;
    this.unreadable = 0;
  }

  private itemOf(v: Pick<QueuedJob, 'id' | 'name' | 'service'> & { mode: PrivacyMode; sent: string | null }, state: JobState): LogItem {
    return { id: v.id, name: v.name, service: v.service, mode: v.mode, state, sent: v.sent, thumbnail: null, entry: null, error: null, delivered: state === 'done' };
  }

  /** Marks a job failed, says so (toast, or a system notification when the page is hidden). */
  private fail(id: string, error: string, delivered: boolean): void {
    const it = this.item(id);
    if (!it) return;
    Object.assign(it, { state: 'failed', error, delivered });
    void notifyFailure(`Not classified: ${it.name}`, `${it.name}: ${error}`);
  }

  private item(id: string): LogItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  async setKeepThumbnails(keep: boolean): Promise<void> {
    this.keepThumbnails = keep;
    await setMeta('keepThumbnails', keep);
  }

  /**
   * Whether images for this service are classified here: when the clinician chose it, or when
   * the server cannot be reached and the service's model is on this device.
   */
  runsHere(service: string, mode: PrivacyMode): boolean {
    if (mode === 'device') return true;
    return (channel.status === 'offline' || channel.status === 'unreachable') && deviceModels.state(service)?.status === 'ready';
  }

  /** Reduces each file on the device and queues it (sends at once when connected), or classifies it here (runsHere). */
  async add(files: readonly File[], service: ServiceInfo, mode: PrivacyMode): Promise<void> {
    const user = this.user;
    if (!user) return;
    const sendAs: ImageMode | null = mode === 'device' || this.runsHere(service.name, mode) ? null : mode;
    const fresh = files.map((f) => this.itemOf({ id: newId(), name: f.name, service: service.name, mode: sendAs ?? 'device', sent: null }, 'reducing'));
    this.items = [...fresh, ...this.items];
    const spec = $state.snapshot(service) as ServiceInfo;
    // decoding and tfjs load with the first images, not with the app
    const { reduce, thumbnailOf } = await import('./reduce.ts');
    for (const [k, file] of files.entries()) {
      const id = fresh[k]!.id;
      try {
        if (file.size === 0) throw new Error('the file is empty (0 bytes): there is nothing to classify');
        if (sendAs === null) {
          await this.classifyHere(id, user, file, spec.name);
          continue;
        }
        const reduced = await reduce(new Uint8Array(await file.arrayBuffer()), sendAs, spec);
        let thumbnail: string | null = null;
        try {
          thumbnail = reduced.grey ? thumbnailOf(reduced.grey) : null;
        } catch {
          // no thumbnail is no loss
        }
        const job: QueuedJob = {
          id,
          user,
          name: file.name,
          service: service.name,
          mode: sendAs,
          sent: reduced.sent,
          image: reduced.image,
          reduceMs: reduced.reduceMs,
          createdAt: Date.now(),
          version: spec.version,
          ...(this.keepThumbnails && thumbnail ? { thumbnail } : {}),
        };
        await put('queue', id, job);
        if (this.user !== user) return;
        this.jobs.set(id, job);
        this.files.set(id, file);
        const it = this.item(id);
        if (it) Object.assign(it, { state: 'queued', sent: reduced.sent, thumbnail });
        void this.pump();
      } catch (e) {
        this.fail(id, errorText(e), false);
      }
    }
  }

  /** Classifies one file with the service's model on this device; the result goes to the history as any other. */
  private async classifyHere(id: string, user: string, file: File, service: string): Promise<void> {
    const started = performance.now();
    const model = await deviceModels.model(service);
    const version = deviceModels.state(service)?.version;
    if (!model || !version) {
      throw new Error(`the model of ${service} is not on this device: it is downloaded while online, where the service allows it`);
    }
    const [{ classifyOnDevice }, { thumbnailOf }] = await Promise.all([import('./on_device.ts'), import('./reduce.ts')]);
    const out = await classifyOnDevice(new Uint8Array(await file.arrayBuffer()), model);
    let thumbnail: string | null = null;
    try {
      thumbnail = thumbnailOf(out.grey);
    } catch {
      // no thumbnail is no loss
    }
    const sent = 'nothing (classified on this device)';
    const entry: HistoryEntry = {
      id: newId(),
      user,
      name: file.name,
      service,
      mode: 'device',
      sent,
      label: out.label,
      scores: out.scores,
      modelVersion: version,
      timings: { reduceMs: out.reduceMs, networkMs: 0, decryptMs: 0, decodeMs: 0, extractMs: out.extractMs, classifyMs: out.classifyMs, totalMs: performance.now() - started },
      at: Date.now(),
      ...(this.keepThumbnails && thumbnail ? { thumbnail } : {}),
    };
    await put('history', entry.id, entry);
    if (this.user !== user) return;
    const it = this.item(id);
    if (it) Object.assign(it, { state: 'done', mode: 'device', sent, entry, thumbnail, delivered: false });
    void notifyResult(`Result: ${out.label}`, `${file.name}: ${out.label}, ${service} v${version}, classified on this device`);
  }

  /** Sends queued jobs, oldest first, a few at a time, while the channel is ready. */
  async pump(): Promise<void> {
    if (channel.status !== 'ready') return;
    const waiting = this.items.filter((i) => i.state === 'queued' && !this.inFlight.has(i.id)).reverse();
    for (const it of waiting) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) break;
      void this.send(it.id);
    }
  }

  /**
   * Sends one job under a lock named after it, so that two tabs with the same queue never
   * both send it; the one that finds it gone from the queue drops it from its list.
   */
  private async send(id: string): Promise<void> {
    if (!this.jobs.has(id) || !this.user) return;
    this.inFlight.add(id);
    let next: boolean;
    try {
      const locks = navigator.locks as LockManager | undefined;
      const step = async (): Promise<boolean> => {
        if (await has('queue', id)) return this.sendNow(id);
        this.end(id);
        this.items = this.items.filter((i) => i.id !== id);
        return true;
      };
      if (!locks) next = await step();
      else {
        const taken = await locks.request(`medclass-job-${id}`, { ifAvailable: true }, async (lock) => (lock ? { next: await step() } : null));
        if (taken) next = taken.next;
        else {
          // another tab is sending it: look again in a moment
          next = false;
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => void this.pump(), RETRY_DELAY_MS);
        }
      }
    } finally {
      this.inFlight.delete(id);
    }
    if (next) void this.pump();
  }

  /** Sends a job and files its outcome; says whether to go on with the queue at once. */
  private async sendNow(id: string): Promise<boolean> {
    const job = this.jobs.get(id);
    const user = this.user;
    if (!job || !user) return true;
    const it = () => this.item(id);
    Object.assign(it() ?? {}, { state: 'sending' });
    const started = performance.now();
    try {
      const result = await channel.classify(job.service, job.image);
      const roundTripMs = performance.now() - started;
      if (raced(job.version, result)) return await this.redo(id, job);
      if (!result.ok) {
        await remove('queue', id);
        this.end(id);
        this.fail(id, `${result.message} (${result.code})`, true);
        return true;
      }
      const t = result.timings;
      const serverMs = t.decryptMs + t.decodeMs + t.extractMs + t.classifyMs;
      const entry: HistoryEntry = {
        id: newId(),
        user,
        name: job.name,
        service: job.service,
        mode: job.mode,
        sent: job.sent,
        label: result.label,
        scores: result.scores,
        modelVersion: result.modelVersion,
        timings: { reduceMs: job.reduceMs, networkMs: Math.max(0, roundTripMs - serverMs), ...t, totalMs: job.reduceMs + roundTripMs },
        at: Date.now(),
        ...(job.thumbnail ? { thumbnail: job.thumbnail } : {}),
      };
      await completeJob(id, entry.id, entry);
      this.end(id);
      if (this.user !== user) return true;
      Object.assign(it() ?? {}, { state: 'done', entry, delivered: true });
      const top = Object.entries(result.scores).find(([l]) => l === result.label)?.[1];
      const share = top !== undefined && top >= 0 && top <= 1 ? ` (${(top * 100).toFixed(0)}%)` : '';
      void notifyResult(`Result: ${result.label}`, `${job.name}: ${result.label}${share}, ${job.service} v${result.modelVersion}`);
    } catch (e) {
      if (e instanceof ClientError && raced(job.version, { ok: false, code: e.code })) return await this.redo(id, job);
      if (retryLater(e)) {
        // stays in the queue: sent again when the channel is back, or in a moment
        Object.assign(it() ?? {}, { state: 'queued' });
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => void this.pump(), RETRY_DELAY_MS);
        return false;
      }
      await remove('queue', id).catch(() => {});
      this.end(id);
      const code = (e as { code?: unknown }).code;
      // a ClientError is the server's answer; anything else was thrown here, before sending
      this.fail(id, typeof code === 'string' ? `${errorText(e)} (${code})` : errorText(e), e instanceof ClientError);
    }
    return true;
  }

  private end(id: string): void {
    this.jobs.delete(id);
    this.files.delete(id);
  }

  /**
   * A job that raced a change of its service: prepared again from its file for the version now
   * current and queued to go once more (once only), or failed with the reason in words.
   */
  private async redo(id: string, job: QueuedJob): Promise<boolean> {
    const it = () => this.item(id);
    const fail = async (why: Parameters<typeof notRedoneMessage>[0], now: ServiceInfo | null) => {
      await remove('queue', id).catch(() => {});
      this.jobs.delete(id);
      // the file stays for a retry where one can go without asking for more than the user chose
      const retryable = why === 'again' && this.files.has(id);
      if (!retryable) this.files.delete(id);
      // it reached the server, which answered for another version
      this.fail(id, notRedoneMessage(why, job, now), true);
      Object.assign(it() ?? {}, { retryable });
      return true;
    };
    // the push may not have come yet: ask
    if (channel.service(job.service)?.version === job.version) await channel.refreshServices().catch(() => {});
    const now = channel.service(job.service) ?? null;
    const file = this.files.get(id);
    if (!now) return fail('gone', null);
    if (job.redone || now.version === job.version) return fail('again', now);
    if (!file) return fail('noFile', now);
    const mode = redoMode(job.mode, now);
    if (!mode) return fail('wider', now);
    Object.assign(it() ?? {}, { state: 'reducing' });
    try {
      const { reduce } = await import('./reduce.ts');
      const reduced = await reduce(new Uint8Array(await file.arrayBuffer()), mode, $state.snapshot(now) as ServiceInfo);
      const again: QueuedJob = { ...job, mode, sent: reduced.sent, image: reduced.image, reduceMs: reduced.reduceMs, version: now.version, redone: true };
      await put('queue', id, again);
      this.jobs.set(id, again);
      Object.assign(it() ?? {}, { state: 'queued', mode, sent: reduced.sent });
    } catch (e) {
      await remove('queue', id).catch(() => {});
      this.end(id);
      // the first try reached the server (and raced the change): "nothing sent" would be wrong
      this.fail(id, errorText(e), true);
    }
    return true;
  }

  /** Sends a failed job's file again, prepared for the service as it is now (see `retryable`). */
  async retry(id: string): Promise<void> {
    const item = this.item(id);
    const file = this.files.get(id);
    const service = item && channel.service(item.service);
    if (!item?.retryable || !file || !service || item.mode === 'device') return;
    const mode = redoMode(item.mode, service);
    if (!mode) return;
    this.dismiss(id);
    await this.add([file], service, mode);
  }

  /** Forgets a failed job shown in the log. */
  dismiss(id: string): void {
    this.files.delete(id);
    this.items = this.items.filter((i) => i.id !== id || i.state !== 'failed');
  }

  /** One click: deletes this user's history and queue on this device, with their keys. */
  async wipe(): Promise<void> {
    await wipeVault();
    this.items = this.items.filter((i) => i.state === 'reducing');
    this.jobs.clear();
    this.unreadable = 0;
  }

  /** Deletes every result kept on this device and the key that sealed them. Queued jobs stay. */
  async clearHistory(): Promise<void> {
    await clearHistory();
    this.items = this.items.filter((i) => i.state !== 'done');
    this.unreadable = 0;
  }
}

export const work = new Workbench();
