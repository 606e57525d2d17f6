import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { MAX_MESSAGE_BYTES, setFrameAead } from '../shared/protocol/frames.ts';
import { nodeFrameAead } from './crypto/node_aead.ts';
import { AccountsService } from './accounts/accounts.service.ts';
import { DEFAULT_RECHECK_MS, SessionRegistry } from './accounts/session_registry.ts';
import { InProcessEvents, type ClusterEvents } from './cluster/events.ts';
import { Connection } from './channel/connection.ts';
import { LoginGuard } from './accounts/login_guard.ts';
import { AddressLimits } from './channel/address_limits.ts';
import { ChannelHub } from './channel/hub.ts';
import { RateLimiter, resolveLimits, SharedRateLimiter, type LimitsOverride } from './channel/limits.ts';
import { UserShares } from './channel/user_shares.ts';
import { TrainingJobs } from './channel/training_jobs.ts';
import { ensureDemoService, type DemoSummary } from './demo/demo.ts';
import { ClassifierPool, type Classifier } from './classify/classifier_pool.ts';
import { secureDataFolder } from './data_folder.ts';
import { PgEvents } from './cluster/pg_events.ts';
import { PostgresStore } from './store/postgres.store.ts';
import { openStore } from './store/open_store.ts';
import { buildApp } from './http/app.ts';
import { registerHealthRoutes, within, type Readiness } from './http/health.ts';
import { errorMessage } from '../shared/errors.ts';
import { loadOrCreateIdentity, pinString, readSecretFile } from './identity_file.ts';
import { createLogger, type Logger } from './log.ts';
import type { Store } from './store/store.ts';
import type { ServerIdentity } from '../shared/protocol/identity.ts';

export interface ServerOptions {
  dataDir: string;
  /**
   * A shared Postgres database (postgres://...): several instances serve from it and hear each
   * other's changes at once. Without it, SQLite in the data folder.
   */
  databaseUrl?: string;
  /** The key to present (the same for every instance); default: the data folder's, made at first start. */
  identity?: ServerIdentity;
  /** The first admin's password; generated (and reported once) when absent. */
  adminPassword?: string;
  limits?: LimitsOverride;
  /**
   * The proxies whose X-Forwarded-For is believed (addresses or CIDR ranges; Azure App Service's
   * front end, for one). Without it the client address is the TCP peer and X-Forwarded-For is ignored.
   */
  trustedProxies?: string[];
  /**
   * Origins allowed besides the server's own (the static web app's): to open the WebSocket,
   * and to read the public configuration over CORS.
   */
  allowedOrigins?: string[];
  clientDir?: string;
  logger?: Logger;
  threads?: number;
  /**
   * Train and publish the BreastMNIST `demo` service when the store has none (default true).
   * A failure is logged, not fatal.
   */
  demo?: boolean;
  /** How long a login lasts (default 30 minutes). */
  tokenLifetimeMs?: number;
  /** How often live sessions are re-checked against the store (default 2 s). */
  recheckMs?: number;
  /** Where changes of access are announced to every instance (default: this process only). */
  events?: ClusterEvents;
}

export interface MedclassServer {
  app: FastifyInstance;
  store: Store;
  classifier: Classifier;
  accounts: AccountsService;
  sessions: SessionRegistry;
  /** `sha256/<fingerprint>/<spki>`: what clients pin. */
  pin: string;
  fingerprint: string;
  /** Set when this start created the first admin with a generated password. */
  firstAdmin: { username: string; password: string | null } | null;
  /** Set when this start trained and published the demo service. */
  demo: DemoSummary | null;
  /** Whether this instance can serve now (what /readyz answers). */
  readiness(): Promise<Readiness>;
  /**
   * Shuts down gracefully (SIGTERM): /readyz turns 503 and new channels are refused at once;
   * requests in flight are answered, then each channel closes with 4046 (reconnect); after at
   * most `graceMs` the rest is closed as by close(), which writes the pending audit rows.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** How long a readiness probe waits for the store or a model before it says not ready. */
const READY_PROBE_MS = 3000;

export async function createMedclassServer(options: ServerOptions): Promise<MedclassServer> {
  // AES-GCM through node:crypto: the same bytes as WebCrypto at a quarter of the CPU per frame.
  setFrameAead(nodeFrameAead);
  const dataDir = resolve(options.dataDir);
  const log = options.logger ?? createLogger();
  const limits = resolveLimits(options.limits);
  // SQLite: 0700 on the folder, 0600 on the database (and so its -wal and -shm) and the key, or a refusal
  const { store, databaseUrl } = await openStore({ data: dataDir, database: options.databaseUrl });
  // The demo service (first start only) trains while the identity and the first admin are made.
  const demo =
    options.demo === false
      ? null
      : ensureDemoService(store, log, { threads: options.threads }).catch((e: unknown) => {
          log.warn({ error: e instanceof Error ? e.message : String(e) }, 'the demo service could not be trained; starting without it');
          return null;
        });
  const identity = options.identity ?? (await loadOrCreateIdentity(dataDir)).identity;
  secureDataFolder(dataDir);
  const events = options.events ?? (databaseUrl && store instanceof PostgresStore ? new PgEvents(databaseUrl, log, store.pool) : new InProcessEvents());
  if (events instanceof PgEvents) await events.ready;
  // with a shared database the address, user and global login ceilings are counted across every instance
  // device tokens are signed with a key in the database, so every instance accepts them; a data
  // folder from before keeps its key file's value, and its users their devices
  const deviceKey = await store.serverSecret('login-device', readSecretFile(dataDir, 'login-device.key') ?? randomBytes(32));
  const guard = new LoginGuard(deviceKey, limits.login, Date.now, databaseUrl ? store : undefined);
  const accounts = new AccountsService(store, Date.now, { events, guard, ...(options.tokenLifetimeMs ? { tokenLifetimeMs: options.tokenLifetimeMs } : {}) });
  const sessions = new SessionRegistry(accounts, events, options.recheckMs ?? DEFAULT_RECHECK_MS);
  const firstAdmin = await accounts.ensureFirstAdmin(options.adminPassword);
  const demoTrained = await demo;
  const classifier = new ClassifierPool(store, limits.decode, options.threads);
  // with a shared database a user's allowance is counted across every instance
  const rate = databaseUrl ? new SharedRateLimiter(store, limits.imagesPerMinute) : new RateLimiter(limits.imagesPerMinute);
  const shares = new UserShares(limits.shares);
  const addresses = new AddressLimits(limits.addresses);
  const hub = await ChannelHub.create({ store, classifier, log, events });
  const training = new TrainingJobs({ store, limits, log, threads: options.threads, notify: (owner, message) => hub.toUser(owner, message) });

  const app = await buildApp({ ...(options.clientDir ? { clientDir: options.clientDir } : {}), trustedProxies: options.trustedProxies ?? [] });
  await app.register(websocket, {
    options: { maxPayload: Math.min(limits.maxMessageBytes, MAX_MESSAGE_BYTES + 64), perMessageDeflate: false },
    // The plugin's default handler terminates the socket at once, so the TCP reset can
    // overtake ws's close frame (1009 for an oversized message); give that frame time to go.
    errorHandler: (error, socket) => {
      log.info({ error: error.message }, 'WebSocket error');
      const timer = setTimeout(() => socket.terminate(), 2_000);
      socket.once('close', () => clearTimeout(timer));
    },
  });

  const allowed = new Set(options.allowedOrigins ?? []);
  const connections = new Set<Connection>();
  let draining = false;
  app.get('/ws', {
    websocket: true,
    // Browsers send Origin: a page elsewhere must not open a channel with a user's browser.
    preValidation: async (request, reply) => {
      // a client refused here tries again, and behind one address reaches another instance
      if (draining) return reply.code(503).send({ error: 'server shutting down' });
      const origin = request.headers.origin;
      if (origin && !allowed.has(origin) && new URL(origin).host !== request.headers.host) {
        log.warn({ origin }, 'WebSocket refused: origin not allowed');
        return reply.code(403).send({ error: 'origin not allowed' });
      }
      // before the upgrade: a refused client costs no ECDH
      const admitted = addresses.admit(request.ip);
      if (!admitted.ok) {
        log.info({ reason: admitted.reason }, 'WebSocket refused: address limits');
        return reply.code(429).send({ error: admitted.reason });
      }
      (request as { admittedAddress?: string }).admittedAddress = admitted.key;
    },
  }, (socket, request) => {
    const address = (request as { admittedAddress?: string }).admittedAddress!;
    const connection = new Connection(socket, { identity, accounts, sessions, store, classifier, limits, rate, shares, address, log, training, hub });
    connections.add(connection);
    socket.once('close', () => {
      addresses.release(address);
      connections.delete(connection);
    });
  });

  // What a web app needs before its channel is up: nothing secret. The app served from here
  // pins the key it was served with (see docs/protocol.md); a statically hosted copy on an
  // allowed origin may read the same over CORS. No other route answers another origin (CORS
  // is off by default and on for these two routes only); simple GETs need no preflight.
  await app.register(cors, { origin: false, preflight: false });
  const openToAllowed = { config: { cors: { origin: [...allowed], methods: ['GET', 'HEAD'] } } };
  app.get('/api/config', openToAllowed, async () => ({ pin: pinString(identity), fingerprint: identity.fingerprint, websocket: '/ws' }));
  app.get('/api/health', openToAllowed, async () => ({ ok: true }));

  const readiness = async (): Promise<Readiness> => {
    if (draining) return { ready: false, reason: 'shutting down' };
    let services: Awaited<ReturnType<Store['listServices']>>;
    try {
      services = await within(READY_PROBE_MS, 'the database', () => store.listServices());
    } catch (e) {
      return { ready: false, reason: `the database is unavailable: ${errorMessage(e)}` };
    }
    const unloaded: string[] = [];
    for (const s of services) {
      const loaded = await within(READY_PROBE_MS, `the model of ${s.name}`, () => classifier.describe(s.name, s.currentVersion)).catch(() => undefined);
      if (!loaded) unloaded.push(`${s.name} v${s.currentVersion}`);
    }
    return unloaded.length ? { ready: false, reason: `models not loaded: ${unloaded.join(', ')}` } : { ready: true };
  };
  registerHealthRoutes(app, readiness);

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      hub.close();
      training.close();
      sessions.close();
      await app.close();
      await classifier.close();
      if (!options.events) await events.close();
      await store.close();
    })());

  return {
    app,
    store,
    classifier,
    accounts,
    sessions,
    pin: pinString(identity),
    fingerprint: identity.fingerprint,
    firstAdmin,
    demo: demoTrained ?? null,
    readiness,
    async drain(graceMs) {
      draining = true;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.all([...connections].map((c) => c.drain())), grace]);
      clearTimeout(timer);
      await close();
    },
    close,
  };
}
