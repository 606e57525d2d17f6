/**
 * The secure channel to the server, kept open while someone is logged in: connect (pinned
 * key), authenticate with the session's token, list the services; reconnect with backoff
 * when the connection drops, at once when the browser comes back online.
 */
import { ClientError, MedclassClient, type ImageResult } from '../../shared/client/client.ts';
import { parsePin } from '../../shared/protocol/identity.ts';
import type { ClassifyImage, ServiceInfo } from '../../shared/protocol/messages.ts';
import { loadServerConfig } from './config.ts';
import { openWebSocket } from './transport.ts';
import { getMeta, setMeta } from './vault.ts';
import { openVault } from './vault_session.ts';

export type ChannelStatus =
  /** Nobody logged in. */
  | 'idle'
  /** The browser says it is offline; waiting for it to come back. */
  | 'offline'
  | 'connecting'
  | 'ready'
  /** The server could not be reached or the connection dropped; retrying. */
  | 'unreachable'
  /** The server's key is not the pinned one: nothing is sent, no automatic retry. */
  | 'untrusted';

/** Handshake failures that say the server is not who it should be (docs/protocol.md section 6). */
const UNTRUSTED = new Set(['pinMismatch', 'badSignature', 'badKey', 'badHandshake', 'unsupportedVersion']);
const SESSION_GONE = new Set(['badToken', 'unauthenticated']);
const MAX_BACKOFF_MS = 30_000;

const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

class Channel {
  status = $state<ChannelStatus>('idle');
  /** What went wrong last, in words (for the error states). */
  detail = $state<string | null>(null);
  /** The hosted services; null until known (from the server, or the last list kept on this device). */
  services = $state.raw<ServiceInfo[] | null>(null);
  /** True while the list shown is the one kept from an earlier connection. */
  servicesCached = $state(false);
  /** When the next automatic attempt is due (ms since the epoch), while unreachable. */
  retryAt = $state<number | null>(null);
  /** The pinned key's fingerprint, once the server proved it holds it. */
  fingerprint = $state<string | null>(null);

  /** Called when the server refuses the token: the session is over. */
  onSessionGone: () => void = () => {};

  private token: string | null = null;
  private client: MedclassClient | null = null;
  private generation = 0;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly readyListeners = new Set<() => void>();

  constructor() {
    addEventListener('online', () => {
      if (this.token && (this.status === 'offline' || this.status === 'unreachable')) {
        this.failures = 0;
        void this.connect();
      }
    });
    addEventListener('offline', () => {
      if (!this.token || this.status === 'untrusted') return;
      // in-flight requests fail with `closed` and go back to the queue
      this.generation++;
      this.drop();
      this.status = 'offline';
    });
  }

  /** Opens the channel for this token (again only if it changed). */
  start(token: string): void {
    if (this.token === token) return;
    this.stop();
    this.token = token;
    void getMeta<ServiceInfo[]>('services').then((kept) => {
      if (kept && this.services === null) {
        this.services = kept;
        this.servicesCached = true;
      }
    });
    void this.connect();
  }

  stop(): void {
    this.generation++;
    this.token = null;
    this.drop();
    this.status = 'idle';
    this.detail = null;
    this.services = null;
    this.servicesCached = false;
  }

  /** A manual retry (the error states' button). */
  retry(): void {
    if (!this.token) return;
    this.failures = 0;
    void this.connect();
  }

  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** The connected client, for requests beyond classification (accounts, audit); null when not connected. */
  get connected(): MedclassClient | null {
    return this.status === 'ready' ? this.client : null;
  }

  /** Classifies one image; rejects with ClientError `closed` when not connected or the connection drops. */
  async classify(service: string, image: ClassifyImage): Promise<ImageResult> {
    if (!this.client || this.status !== 'ready') throw new ClientError('closed', 'not connected');
    const [result] = await this.client.classify(service, [image]);
    return result!;
  }

  private drop(): void {
    clearTimeout(this.retryTimer);
    this.retryAt = null;
    const client = this.client;
    this.client = null;
    client?.close();
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    this.drop();
    if (!navigator.onLine) {
      this.status = 'offline';
      return;
    }
    this.status = 'connecting';
    let client: MedclassClient | null = null;
    try {
      const config = await loadServerConfig();
      const pins = await parsePin(config.pin);
      const transport = await openWebSocket(config.websocket);
      if (generation !== this.generation) return transport.close(1000, 'superseded');
      client = await MedclassClient.connect(transport, pins);
      await client.authenticate(this.token!);
      // this user's vault on the device opens with the key the server releases only now
      await openVault(client);
      const services = await client.listServices();
      if (generation !== this.generation) return client.close();
      this.client = client;
      this.services = services;
      this.servicesCached = false;
      this.failures = 0;
      this.detail = null;
      this.fingerprint = config.pin.split('/')[1] ?? null;
      this.status = 'ready';
      void setMeta('services', services);
      const mine = client;
      void transport.closed.then(({ code, reason }) => {
        if (this.client !== mine) return;
        this.client = null;
        this.lost(`the connection closed (${code}${reason ? `: ${reason}` : ''})`);
      });
      for (const listener of this.readyListeners) listener();
    } catch (e) {
      client?.close();
      if (generation !== this.generation) return;
      this.fail(e);
    }
  }

  private fail(e: unknown): void {
    const code = codeOf(e);
    if (code && SESSION_GONE.has(code)) {
      this.stop();
      this.onSessionGone();
      return;
    }
    if (code && UNTRUSTED.has(code)) {
      this.status = 'untrusted';
      this.detail = messageOf(e);
      return;
    }
    this.lost(messageOf(e));
  }

  private lost(detail: string): void {
    this.detail = detail;
    if (!navigator.onLine) {
      this.status = 'offline';
      return;
    }
    this.status = 'unreachable';
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.failures++);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}

export const channel = new Channel();
