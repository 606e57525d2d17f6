/**
 * What the app keeps on the device, in IndexedDB: the history of results and the queue of
 * jobs not sent yet, each record sealed with AES-256-GCM. Each user has their own vault:
 *
 * - The server holds a random 32-byte vault key per user and releases it only to that user,
 *   inside the channel, after login (`vaultKey`, docs/protocol.md). It is imported as a
 *   non-extractable AES-KW key, kept in memory while the user is logged in, and dropped at
 *   logout (`lockVault`).
 * - Under it the device keeps, per user and store, an AES-GCM key wrapped with AES-KW. It is
 *   unwrapped non-extractable: the page can use it, never read it.
 * - A record carries its owner, an opaque id derived from the vault key (no user name in the
 *   clear), so another user's records are never even tried; the owner, the store and the id
 *   are bound in as additional data, so a record cannot be moved to another id, store or user.
 *
 * Besides, in the clear, small settings and the list of services (no patient data). The ids
 * are time-ordered (they sort by creation), which is all that is left in the clear.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { decodeRecord, encodeRecord } from './codec.ts';

export const DB_NAME = 'medclass';
/** `models`: the model documents of services that allow classifying on the device (device_models.svelte.ts). */
export type SealedStore = 'history' | 'queue' | 'models';

export interface SealedRecord {
  id: string;
  /** Whose record: derived from the user's vault key. */
  owner: string;
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

interface VaultSchema extends DBSchema {
  /** `<owner>/<store>`: the store's AES-GCM key, wrapped with the user's vault key (AES-KW). */
  keys: { key: string; value: ArrayBuffer };
  history: { key: string; value: SealedRecord; indexes: { owner: string } };
  queue: { key: string; value: SealedRecord; indexes: { owner: string } };
  models: { key: string; value: SealedRecord; indexes: { owner: string } };
  meta: { key: string; value: unknown };
}

/** Sealing or opening with no user's vault unlocked. */
export class VaultLocked extends Error {
  override name = 'VaultLocked';
  constructor() {
    super('the vault on this device is locked: log in to open it');
  }
}

let database: Promise<IDBPDatabase<VaultSchema>> | null = null;

function db(): Promise<IDBPDatabase<VaultSchema>> {
  database ??= openDB<VaultSchema>(DB_NAME, 3, {
    upgrade(d, oldVersion) {
      if (oldVersion < 2) {
        // version 1 sealed every user's records under one key per browser profile: they go
        if (oldVersion >= 1) for (const name of ['keys', 'history', 'queue'] as const) d.deleteObjectStore(name);
        d.createObjectStore('keys');
        d.createObjectStore('history', { keyPath: 'id' }).createIndex('owner', 'owner');
        d.createObjectStore('queue', { keyPath: 'id' }).createIndex('owner', 'owner');
        if (oldVersion < 1) d.createObjectStore('meta');
      }
      // version 3: downloaded models, sealed like the rest
      if (oldVersion < 3) d.createObjectStore('models', { keyPath: 'id' }).createIndex('owner', 'owner');
    },
    // another tab upgrading: let it, and reopen on the next use
    blocking() {
      void database?.then((d) => d.close());
      database = null;
    },
  });
  return database;
}

interface Unlocked {
  owner: string;
  wrapping: CryptoKey;
  keys: Map<SealedStore, Promise<CryptoKey>>;
}

let unlocked: Unlocked | null = null;
const SESSION_KEY = 'medclass.vault';

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
const toBase64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/**
 * Opens the vault of the user whose vault key this is (from the server, after login). The key
 * is also kept in this tab's sessionStorage, so that a reload while offline can reopen it; it
 * goes with the tab or at logout.
 */
export async function unlockVault(vaultKey: Uint8Array): Promise<void> {
  if (vaultKey.length !== 32) throw new Error('a vault key is 32 bytes');
  const tagged = new Uint8Array(32 + 21);
  tagged.set(new TextEncoder().encode('medclass vault owner\0'));
  tagged.set(vaultKey, 21);
  const owner = hex(await crypto.subtle.digest('SHA-256', tagged)).slice(0, 32);
  const wrapping = await crypto.subtle.importKey('raw', new Uint8Array(vaultKey), 'AES-KW', false, ['wrapKey', 'unwrapKey']);
  unlocked = { owner, wrapping, keys: new Map() };
  try {
    sessionStorage.setItem(SESSION_KEY, toBase64(vaultKey));
  } catch {
    // storage refused: the vault stays open until the page goes
  }
}

/** Reopens the vault after a reload, from this tab's sessionStorage; false when there is nothing to reopen. */
export async function reopenVault(): Promise<boolean> {
  if (unlocked) return true;
  const kept = sessionStorage.getItem(SESSION_KEY);
  if (!kept) return false;
  try {
    await unlockVault(fromBase64(kept));
    return true;
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
    return false;
  }
}

/** Drops the keys from memory (logout): nothing can be opened or sealed until the next login. */
export function lockVault(): void {
  unlocked = null;
  sessionStorage.removeItem(SESSION_KEY);
}

export const vaultUnlocked = (): boolean => unlocked !== null;

function current(): Unlocked {
  if (!unlocked) throw new VaultLocked();
  return unlocked;
}

/** The store's key for the unlocked user: unwrapped from the device, or made (and wrapped) on first use. */
function keyFor(store: SealedStore): Promise<CryptoKey> {
  const u = current();
  let key = u.keys.get(store);
  if (!key) {
    key = (async () => {
      const d = await db();
      const name = `${u.owner}/${store}`;
      const unwrap = (wrapped: ArrayBuffer) => crypto.subtle.unwrapKey('raw', wrapped, u.wrapping, 'AES-KW', 'AES-GCM', false, ['encrypt', 'decrypt']);
      const existing = await d.get('keys', name);
      if (existing) return unwrap(existing);
      // extractable only long enough to be wrapped; what is used is the unwrapped, non-extractable copy
      const fresh = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
      const wrapped = await crypto.subtle.wrapKey('raw', fresh, u.wrapping, 'AES-KW');
      // another tab may have made one meanwhile: the first one written wins
      const tx = d.transaction('keys', 'readwrite');
      const raced = await tx.store.get(name);
      if (!raced) await tx.store.put(wrapped, name);
      await tx.done;
      return unwrap(raced ?? wrapped);
    })();
    u.keys.set(store, key);
    key.catch(() => u.keys.delete(store));
  }
  return key;
}

const additionalData = (store: SealedStore, owner: string, id: string) => new TextEncoder().encode(`medclass/${store}/${owner}/${id}`);

/** Time-ordered, unique: the creation time in base 36, then random bits. */
export function newId(): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `${Date.now().toString(36).padStart(10, '0')}-${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export async function seal(store: SealedStore, id: string, value: unknown): Promise<SealedRecord> {
  const { owner } = current();
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(store, owner, id) }, await keyFor(store), encodeRecord(value));
  return { id, owner, iv, data };
}

async function unseal<T>(store: SealedStore, record: SealedRecord): Promise<T> {
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: record.iv, additionalData: additionalData(store, record.owner, record.id) }, await keyFor(store), record.data);
  return decodeRecord<T>(new Uint8Array(plain));
}

export async function put(store: SealedStore, id: string, value: unknown): Promise<void> {
  const record = await seal(store, id, value);
  await (await db()).put(store, record);
}

/**
 * Every record of the unlocked user in a store, oldest first; `unreadable` counts those of
 * theirs that do not open (sealed under a key since deleted, or damaged): they are left alone.
 * Other users' records are not read at all.
 */
export async function readAll<T>(store: SealedStore): Promise<{ values: { id: string; value: T }[]; unreadable: number }> {
  const { owner } = current();
  const records = await (await db()).getAllFromIndex(store, 'owner', owner);
  const values: { id: string; value: T }[] = [];
  let unreadable = 0;
  for (const record of records) {
    try {
      values.push({ id: record.id, value: await unseal<T>(store, record) });
    } catch {
      unreadable++;
    }
  }
  return { values, unreadable };
}

/** One record of the unlocked user, opened; undefined when absent, another user's, or unreadable. */
export async function get<T>(store: SealedStore, id: string): Promise<T | undefined> {
  const { owner } = current();
  const record = await (await db()).get(store, id);
  if (record?.owner !== owner) return undefined;
  try {
    return await unseal<T>(store, record);
  } catch {
    return undefined;
  }
}

/**
 * A record id that names something of the unlocked user's (a service's model) without saying
 * what in the clear: derived from the vault owner and the name.
 */
export async function namedId(store: SealedStore, name: string): Promise<string> {
  const { owner } = current();
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`medclass/${store}/${owner}/${name}`))).slice(0, 32);
}

export async function has(store: SealedStore, id: string): Promise<boolean> {
  const { owner } = current();
  return (await (await db()).get(store, id))?.owner === owner;
}

export async function remove(store: SealedStore, id: string): Promise<void> {
  const { owner } = current();
  const tx = (await db()).transaction(store, 'readwrite');
  if ((await tx.store.get(id))?.owner === owner) await tx.store.delete(id);
  await tx.done;
}

/** Deletes the unlocked user's records of a store (and, with `withKey`, the store's key). */
async function clearOwn(stores: SealedStore[], withKey: boolean): Promise<void> {
  const u = current();
  const tx = (await db()).transaction([...stores, 'keys'], 'readwrite');
  const work: Promise<unknown>[] = [];
  for (const store of stores) {
    if (withKey) {
      u.keys.delete(store);
      work.push(tx.objectStore('keys').delete(`${u.owner}/${store}`));
    }
    let cursor = await tx.objectStore(store).index('owner').openCursor(u.owner);
    while (cursor) {
      work.push(cursor.delete());
      cursor = await cursor.continue();
    }
  }
  await Promise.all([...work, tx.done]);
}

/** One transaction: the result is kept and its job leaves the queue, or neither happens. */
export async function completeJob(jobId: string, historyId: string, entry: unknown): Promise<void> {
  const record = await seal('history', historyId, entry);
  const tx = (await db()).transaction(['history', 'queue'], 'readwrite');
  await Promise.all([tx.objectStore('history').put(record), tx.objectStore('queue').delete(jobId), tx.done]);
}

/** Deletes the user's history records and the history key itself. */
export function clearHistory(): Promise<void> {
  return clearOwn(['history'], true);
}

/** One click: deletes everything of the user's on this device (history, queue, downloaded models, their keys). */
export function wipeVault(): Promise<void> {
  return clearOwn(['history', 'queue', 'models'], true);
}

export async function getMeta<T>(key: string): Promise<T | undefined> {
  return (await (await db()).get('meta', key)) as T | undefined;
}

export async function setMeta(key: string, value: unknown): Promise<void> {
  await (await db()).put('meta', value, key);
}
