import type { MessageOf, ServerMessage } from '../../shared/protocol/messages.ts';
import type { Classifier } from '../classify/classifier_pool.ts';
import type { Logger } from '../log.ts';
import type { Role, ServiceRecord, Store } from '../store/store.ts';

/** A connection as the hub sees it: who is logged in on it, and a way to send it something unasked. */
export interface PushTarget {
  readonly username: string | null;
  readonly role: Role | null;
  push(message: ServerMessage): void;
}

type ServiceEntry = MessageOf<'services'>['services'][number];

/**
 * A service as the `services` and `serviceChanged` messages carry it: the current version's
 * description, modes, labels, spec and input size; admins also get every kept version. Undefined when the
 * current model cannot be read.
 */
export async function serviceEntry(record: ServiceRecord, classifier: Classifier, forAdmin: boolean): Promise<ServiceEntry | undefined> {
  const model = await classifier.describe(record.name, record.currentVersion);
  if (!model) return undefined;
  const entry: ServiceEntry = {
    name: record.name,
    description: record.description,
    version: record.currentVersion,
    labels: model.labels,
    privacyModes: [...record.privacyModes],
    spec: model.spec,
  };
  // the exact size a reduced image must have: the spec's, or the training images' when it keeps each size
  const inputSize = model.imageSize ?? (model.spec.size ? { width: model.spec.size, height: model.spec.size } : undefined);
  if (inputSize) entry.inputSize = inputSize;
  if (forAdmin) entry.versions = record.versions.map((v) => ({ ...v, privacyModes: [...v.privacyModes] }));
  return entry;
}

export interface HubDeps {
  store: Store;
  classifier: Classifier;
  log: Logger;
  pollMs?: number;
}

/** How often the hub looks for versions made current by another process (`medclass publish`). */
const POLL_MS = 2000;

/**
 * The authenticated connections, for what the server says unasked: `serviceChanged` to
 * everyone when a service's current version changes (a publish, a rollback, a roll forward),
 * and messages to one user (an upload the server dropped).
 */
export class ChannelHub {
  private readonly connections = new Set<PushTarget>();
  /** The current version of each service as last announced. */
  private readonly announced = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  /** The look in progress; a call meanwhile looks again once it is done. */
  private looking: Promise<void> | null = null;
  private again = false;

  private constructor(private readonly deps: HubDeps) {
    this.timer = setInterval(() => void this.servicesChanged(), deps.pollMs ?? POLL_MS);
    this.timer.unref();
  }

  /** A hub that counts the services' current versions as already announced. */
  static async create(deps: HubDeps): Promise<ChannelHub> {
    const hub = new ChannelHub(deps);
    for (const s of await deps.store.listServices()) hub.announced.set(s.name, s.currentVersion);
    return hub;
  }

  add(connection: PushTarget): void {
    this.connections.add(connection);
  }

  remove(connection: PushTarget): void {
    this.connections.delete(connection);
  }

  toUser(username: string, message: ServerMessage): void {
    for (const c of this.connections) if (c.username === username) c.push(message);
  }

  /**
   * Announces each service whose current version is not the one last announced. This
   * server's publish and rollback call it at once; another process's writes are seen within
   * the poll interval (the store's cache makes a look with no change nearly free).
   */
  servicesChanged(): Promise<void> {
    if (this.looking) {
      this.again = true;
      return this.looking;
    }
    this.looking = (async () => {
      do {
        this.again = false;
        await this.look();
      } while (this.again);
    })().finally(() => (this.looking = null));
    return this.looking;
  }

  /** One look; looks never overlap, so each change is announced once, in order. */
  private async look(): Promise<void> {
    let services: readonly ServiceRecord[];
    try {
      services = await this.deps.store.listServices();
    } catch (e) {
      this.deps.log.warn({ error: e instanceof Error ? e.message : String(e) }, 'could not look for changed services');
      return;
    }
    for (const s of services) {
      if (this.announced.get(s.name) === s.currentVersion) continue;
      this.announced.set(s.name, s.currentVersion);
      let clinician: ServiceEntry | undefined;
      let admin: ServiceEntry | undefined;
      try {
        clinician = await serviceEntry(s, this.deps.classifier, false);
        admin = await serviceEntry(s, this.deps.classifier, true);
      } catch (e) {
        this.deps.log.warn({ service: s.name, version: s.currentVersion, error: e instanceof Error ? e.message : String(e) }, 'a changed service could not be described');
      }
      if (!clinician || !admin) continue;
      this.deps.log.info({ service: s.name, version: s.currentVersion, connections: this.connections.size }, 'service changed; telling the connected clients');
      for (const c of this.connections) c.push({ type: 'serviceChanged', service: c.role === 'admin' ? admin : clinician });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.connections.clear();
  }
}
