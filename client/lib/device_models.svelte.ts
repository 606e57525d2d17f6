/**
 * Models on the device (docs/protocol.md, "Models on the device"): for each service whose
 * current version allows `device`, its model document is downloaded inside the channel
 * (`fetchModel`), sealed into the vault's `models` store like the history (vault.ts), and
 * used to classify here, online when the clinician picks it, offline always. When a service
 * changes version (a publish, a rollback), its model is replaced, or dropped where the new
 * version does not allow devices; a model of a version no longer current is never used
 * once the change is known.
 */
import { ClientError } from '../../shared/client/client.ts';
import { fetchDeviceModel } from '../../shared/client/device_model_api.ts';
import type { LoadedModel } from '../../shared/classify/model.ts';
import type { ServiceInfo } from '../../shared/protocol/messages.ts';
import { channel } from './channel.svelte.ts';
import { get, namedId, put, readAll, remove, vaultUnlocked } from './vault.ts';

/** A model as the vault keeps it (sealed). */
interface StoredModel {
  service: string;
  version: number;
  classifier: string;
  document: string;
  /** When it was downloaded (ms since the epoch). */
  at: number;
}

/** What the page shows of a service's model on this device. */
export interface DeviceModelState {
  status: 'downloading' | 'ready' | 'refused' | 'failed';
  version: number | null;
  classifier: string | null;
  bytes: number;
  /** Why it is not here (refused by the server, or the download failed), in words. */
  reason: string | null;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

let warmed: Promise<unknown> | null = null;
/**
 * Loads the code that classifies here while it can still be fetched: a model is only of use
 * offline if its code is in the page too (the service worker may not have cached it yet, and
 * a browser remembers a dynamic import that failed).
 */
function warm(): void {
  warmed ??= Promise.all([import('./on_device.ts'), import('./reduce.ts'), import('../features/backend.ts'), import('../../shared/classify/model.ts'), import('../../shared/image/jpeg.ts')]).catch(() => {
    warmed = null;
  });
}

class DeviceModels {
  /** By service name; absent: the service does not allow devices (or nothing is known yet). */
  states = $state<Record<string, DeviceModelState>>({});
  /** Parsed models by `service@version`, kept while the vault is open. */
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  private chain: Promise<void> = Promise.resolve();
  private opened = false;

  constructor() {
    channel.onServices((services) => void this.sync(services));
  }

  /** What is on this device for a service, if anything. */
  state(service: string): DeviceModelState | undefined {
    return this.states[service];
  }

  /** Reads which models this user keeps here (after the vault opens). */
  open(): Promise<void> {
    return this.queue(async () => {
      if (this.opened || !vaultUnlocked()) return;
      const { values } = await readAll<StoredModel>('models');
      const states: Record<string, DeviceModelState> = {};
      for (const { value } of values) states[value.service] = { status: 'ready', version: value.version, classifier: value.classifier, bytes: value.document.length, reason: null };
      this.states = states;
      this.opened = true;
      if (values.length && navigator.onLine) warm();
      if (channel.services && !channel.servicesCached) await this.reconcile(channel.services);
    });
  }

  /** Forgets what is in memory (logout): the sealed records stay for the next login. */
  close(): void {
    this.opened = false;
    this.states = {};
    this.loaded.clear();
  }

  /** The service list as the server gave it: download, replace or drop models to match. */
  sync(services: readonly ServiceInfo[]): Promise<void> {
    return this.queue(() => this.reconcile(services));
  }

  private queue(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => {});
    return run;
  }

  private async reconcile(services: readonly ServiceInfo[]): Promise<void> {
    if (!this.opened || !vaultUnlocked()) return;
    const current = new Map(services.map((s) => [s.name, s]));
    for (const name of Object.keys(this.states)) {
      const s = current.get(name);
      if (!s || !s.privacyModes.includes('device')) await this.drop(name);
    }
    for (const s of services) {
      if (!s.privacyModes.includes('device')) continue;
      const have = this.states[s.name];
      if (have?.status === 'ready' && have.version === s.version) continue;
      if (have?.status === 'refused' && have.version === s.version) continue;
      await this.download(s);
    }
  }

  private async drop(service: string): Promise<void> {
    await remove('models', await namedId('models', service));
    for (const key of this.loaded.keys()) if (key.startsWith(`${service}@`)) this.loaded.delete(key);
    const { [service]: _gone, ...rest } = this.states;
    this.states = rest;
  }

  private async download(s: ServiceInfo): Promise<void> {
    const client = channel.connected;
    if (!client) return;
    // the model of the version before is never used once this one is known
    if (this.states[s.name]) await this.drop(s.name);
    this.states = { ...this.states, [s.name]: { status: 'downloading', version: s.version, classifier: null, bytes: 0, reason: null } };
    warm();
    try {
      const got = await fetchDeviceModel(client, s.name);
      // checked here as the server checks it: integrity, schema, the classifier it holds
      const { parseModel } = await import('../../shared/classify/model.ts');
      const model = parseModel(got.document);
      const stored: StoredModel = { service: got.service, version: got.version, classifier: got.classifier, document: got.document, at: Date.now() };
      await put('models', await namedId('models', s.name), stored);
      this.loaded.set(`${s.name}@${got.version}`, Promise.resolve(model));
      this.states = { ...this.states, [s.name]: { status: 'ready', version: got.version, classifier: got.classifier, bytes: got.document.length, reason: null } };
    } catch (e) {
      const refused = e instanceof ClientError && ['modeNotAllowed', 'unsupportedModel', 'tooLarge', 'unknownService'].includes(e.code);
      this.states = { ...this.states, [s.name]: { status: refused ? 'refused' : 'failed', version: s.version, classifier: null, bytes: 0, reason: errorText(e) } };
    }
  }

  /** The model to classify with on this device for a service, or null when none is here. */
  async model(service: string): Promise<LoadedModel | null> {
    const st = this.states[service];
    if (st?.status !== 'ready' || st.version === null) return null;
    const key = `${service}@${st.version}`;
    let m = this.loaded.get(key);
    if (!m) {
      m = (async () => {
        const stored = await get<StoredModel>('models', await namedId('models', service));
        if (!stored || stored.version !== st.version) throw new Error(`the model of ${service} on this device cannot be opened`);
        const { parseModel } = await import('../../shared/classify/model.ts');
        return parseModel(stored.document);
      })();
      this.loaded.set(key, m);
      m.catch(() => this.loaded.delete(key));
    }
    return m;
  }
}

export const deviceModels = new DeviceModels();
