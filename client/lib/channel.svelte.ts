/**
 * The secure channel to the server, kept open while someone is logged in: connect (pinned
 * key), log in inside the channel (the password, or on a reconnect the login's token: neither
 * ever travels outside it), list the services and keep them current as the server announces
 * changes (`serviceChanged`); reconnect with backoff when the connection drops, at once when
 * the browser comes back online.
 */
import { ClientError, MedclassClient, type ImageResult, type LoginResult, type PushEvent } from '../../shared/client/client.ts';
import { parsePin } from '../../shared/protocol/identity.ts';
import type { ClassifyImage, ServiceInfo } from '../../shared/protocol/messages.ts';
import { SERVER_SHUTTING_DOWN, SESSION_END, sessionEndCause, type SessionEndCause } from '../../shared/protocol/session_end.ts';
import { loadServerConfig, UnreachableError } from './config.ts';
import { toast } from './notify.svelte.ts';
import { PinChangedError } from './pins.ts';
import { openWebSocket, type BrowserTransport } from './transport.ts';
import { getMeta, setMeta } from './vault.ts';
import { openVault } from './vault_session.ts';
import { deviceTokenFor, keepDeviceToken } from './device_tokens.ts';
import { changePassword } from '../../shared/client/account_api.ts';

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
const UNTRUSTED = new Set(['pinMismatch', 'badSignature', 'badKey', 'badHandshake', 'unsupportedVersion', 'pinChanged']);
const SESSION_GONE = new Set(['badToken', 'unauthenticated']);

/** Opens the socket and runs the pinned handshake; the pin goes through trust on first use. */
export async function openChannel(): Promise<{ client: MedclassClient; transport: BrowserTransport; fingerprint: string }> {
  const config = await loadServerConfig();
  const pins = await parsePin(config.pin);
  let transport: BrowserTransport;
  try {
    transport = await openWebSocket(config.websocket);
  } catch (e) {
    throw new UnreachableError(messageOf(e));
  }
  const client = await MedclassClient.connect(transport, pins);
  return { client, transport, fingerprint: pins.fingerprint };
}
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

  /** The pin trouble in detail, while untrusted because the key changed (for the re-pin form). */
  pinChange = $state.raw<PinChangedError | null>(null);

  /** Called when the login is over (the server refused the token, or ended the session with a cause). */
  onSessionGone: (cause: SessionEndCause | 'badToken') => void = () => {};

  private token: string | null = null;
  private client: MedclassClient | null = null;
  /** A connection logged in with a one-time password, kept only to change it. */
  private oneTime: MedclassClient | null = null;
  private generation = 0;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly readyListeners = new Set<() => void>();
  private readonly servicesListeners = new Set<(services: readonly ServiceInfo[]) => void>();

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

  /** Opens the channel for this login's token (again only if it changed): `resume` inside the channel. */
  start(token: string): void {
    if (this.token === token) return;
    this.stop();
    this.token = token;
    this.keptServices();
    void this.connect();
  }

  private keptServices(): void {
    void getMeta<ServiceInfo[]>('services').then((kept) => {
      if (kept && this.services === null) {
        this.services = kept;
        this.servicesCached = true;
      }
    });
  }

  /**
   * Logs in inside a fresh channel; on success the channel stays open for this login. Throws
   * the refusal (ClientError with its code, UnreachableError, PinChangedError) otherwise.
   */
  async login(username: string, password: string): Promise<LoginResult> {
    this.stop();
    const generation = this.generation;
    const { client, transport, fingerprint } = await openChannel();
    let result: LoginResult;
    try {
      result = await client.login(username, password, await deviceTokenFor(username));
    } catch (e) {
      client.close();
      throw e;
    }
    if (generation !== this.generation) {
      client.close();
      throw new ClientError('closed', 'superseded');
    }
    if (result.deviceToken) await keepDeviceToken(result.user, result.deviceToken);
    if (result.mustChangePassword) {
      // a one-time password: this connection may only change it (password_change.ts)
      this.oneTime = client;
      return result;
    }
    this.token = result.token;
    this.keptServices();
    this.status = 'connecting';
    await this.attach(client, transport, fingerprint, ++this.generation).catch((e: unknown) => this.fail(e));
    return result;
  }

  /**
   * Ends the login on the server (every connection holding its token closes) and here. When
   * not connected, a fresh connection is opened for it; offline, the token simply expires.
   */
  async logout(): Promise<void> {
    const token = this.token;
    let client = this.client;
    this.client = null;
    this.stop();
    if (!token) return;
    try {
      if (!client) {
        client = (await openChannel()).client;
        await client.resume(token);
      }
      await Promise.race([client.logout(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
    } catch {
      // unreachable or already over: the token expires by itself
    } finally {
      client?.close();
    }
  }

  stop(): void {
    this.generation++;
    this.oneTime?.close();
    this.oneTime = null;
    this.token = null;
    this.drop();
    this.status = 'idle';
    this.detail = null;
    this.pinChange = null;
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

  /** Called with the list each time the server gives it (connected, a change pushed or asked for); not with a kept list. */
  onServices(listener: (services: readonly ServiceInfo[]) => void): () => void {
    this.servicesListeners.add(listener);
    return () => this.servicesListeners.delete(listener);
  }

  private heard(services: readonly ServiceInfo[]): void {
    for (const listener of this.servicesListeners) listener(services);
  }

  /**
   * Replaces the one-time password the last login used; the server then ends that login
   * (passwordChanged), and the caller logs in with the new password.
   */
  async changeOneTimePassword(current: string, next: string): Promise<void> {
    const client = this.oneTime;
    if (!client) throw new ClientError('closed', 'log in with the one-time password first');
    try {
      await changePassword(client, current, next);
    } finally {
      this.oneTime = null;
      client.close();
    }
  }

  /** The connected client, for requests beyond classification (accounts, audit); null when not connected. */
  get connected(): MedclassClient | null {
    return this.status === 'ready' ? this.client : null;
  }

  /** The service of that name as last known. */
  service(name: string): ServiceInfo | undefined {
    return this.services?.find((s) => s.name === name);
  }

  /** Asks the server for the list again (when an answer says a service changed before its push came). */
  async refreshServices(): Promise<void> {
    const client = this.client;
    if (!client || this.status !== 'ready') return;
    const services = await client.listServices();
    if (this.client !== client) return;
    this.services = services;
    this.servicesCached = false;
    void setMeta('services', services);
    this.heard(services);
  }

  /** The server announced a service's new current version: the page shows it from now on. */
  private pushed(event: PushEvent): void {
    if (event.type !== 'serviceChanged' || !this.services) return;
    const fresh = event.service;
    const before = this.service(fresh.name);
    this.services = before ? this.services.map((s) => (s.name === fresh.name ? fresh : s)) : [...this.services, fresh].sort((a, b) => a.name.localeCompare(b.name));
    void setMeta('services', this.services);
    this.heard(this.services);
    if (before?.version !== fresh.version) {
      const what = before ? `now serves version ${fresh.version} (it was ${before.version})` : `is now offered (version ${fresh.version})`;
      toast(`${fresh.name} was updated`, `${fresh.name} ${what}.${fresh.description ? ` ${fresh.description}` : ''}`, 'info');
    }
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
      const opened = await openChannel();
      client = opened.client;
      if (generation !== this.generation) return client.close();
      await client.resume(this.token!);
      await this.attach(client, opened.transport, opened.fingerprint, generation);
    } catch (e) {
      client?.close();
      if (generation !== this.generation) return;
      this.fail(e);
    }
  }

  /** A logged-in client becomes the channel's: list the services, watch for the end. */
  private async attach(client: MedclassClient, transport: BrowserTransport, fingerprint: string, generation: number): Promise<void> {
    // this user's vault on the device opens with the key the server releases only now
    await openVault(client);
    client.onPush((event) => {
      if (this.client === client) this.pushed(event);
    });
    const services = await client.listServices();
    if (generation !== this.generation) return client.close();
    this.client = client;
    this.services = services;
    this.servicesCached = false;
    this.failures = 0;
    this.detail = null;
    this.pinChange = null;
    this.fingerprint = fingerprint;
    this.status = 'ready';
    void setMeta('services', services);
    void transport.closed.then(({ code, reason }) => {
      if (this.client !== client) return;
      this.client = null;
      const cause = sessionEndCause(code);
      if (cause) return this.gone(cause);
      // this instance is shutting down, its answers all sent: another one takes over at once
      if (code === SERVER_SHUTTING_DOWN.code) {
        this.failures = 0;
        return void this.connect();
      }
      this.lost(`the connection closed (${code}${reason ? `: ${reason}` : ''})`);
    });
    for (const listener of this.readyListeners) listener();
    this.heard(services);
  }

  private gone(cause: SessionEndCause | 'badToken'): void {
    this.stop();
    this.onSessionGone(cause);
  }

  private fail(e: unknown): void {
    const code = codeOf(e);
    if (code && SESSION_GONE.has(code)) return this.gone('badToken');
    if (code && Object.hasOwn(SESSION_END, code)) return this.gone(code as SessionEndCause);
    if (code && UNTRUSTED.has(code)) {
      this.status = 'untrusted';
      this.detail = messageOf(e);
      this.pinChange = e instanceof PinChangedError ? e : null;
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
