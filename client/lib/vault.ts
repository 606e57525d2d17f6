/**
 * What the app keeps on the device, in IndexedDB: the history of results and the queue of
 * jobs not sent yet, each record sealed with AES-256-GCM under a key that WebCrypto made
 * non-extractable and IndexedDB keeps as a CryptoKey (structured clone keeps it so: the
 * page can use it, never read it). Besides, in the clear, small settings and the list of
 * services (names, labels, feature specs: no patient data).
 *
 * A sealed record holds its id, a random 96-bit IV and the ciphertext; the id and the store
 * are bound in as additional data, so a record cannot be moved to another id or store.
 * The ids are time-ordered (they sort by creation), which is all that is left in the clear.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { decodeRecord, encodeRecord } from './codec.ts';

export const DB_NAME = 'medclass';
export type SealedStore = 'history' | 'queue';

export interface SealedRecord {
  id: string;
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

interface VaultSchema extends DBSchema {
  keys: { key: SealedStore; value: CryptoKey };
  history: { key: string; value: SealedRecord };
  queue: { key: string; value: SealedRecord };
  meta: { key: string; value: unknown };
}

let database: Promise<IDBPDatabase<VaultSchema>> | null = null;

function db(): Promise<IDBPDatabase<VaultSchema>> {
  database ??= openDB<VaultSchema>(DB_NAME, 1, {
    upgrade(d) {
      d.createObjectStore('keys');
      d.createObjectStore('history', { keyPath: 'id' });
      d.createObjectStore('queue', { keyPath: 'id' });
      d.createObjectStore('meta');
    },
    // another tab upgrading: let it, and reopen on the next use
    blocking() {
      void database?.then((d) => d.close());
      database = null;
    },
  });
  return database;
}

const keys = new Map<SealedStore, Promise<CryptoKey>>();

/** The store's key: made once, on first use, and kept in IndexedDB. */
function keyFor(store: SealedStore): Promise<CryptoKey> {
  let key = keys.get(store);
  if (!key) {
    key = (async () => {
      const d = await db();
      const existing = await d.get('keys', store);
      if (existing) return existing;
      const fresh = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      // another tab may have made one meanwhile: the first one written wins
      const tx = d.transaction('keys', 'readwrite');
      const raced = await tx.store.get(store);
      if (!raced) await tx.store.put(fresh, store);
      await tx.done;
      return raced ?? fresh;
    })();
    keys.set(store, key);
    key.catch(() => keys.delete(store));
  }
  return key;
}

const additionalData = (store: SealedStore, id: string) => new TextEncoder().encode(`medclass/${store}/${id}`);

/** Time-ordered, unique: the creation time in base 36, then random bits. */
export function newId(): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  return `${Date.now().toString(36).padStart(10, '0')}-${Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export async function seal(store: SealedStore, id: string, value: unknown): Promise<SealedRecord> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(store, id) }, await keyFor(store), encodeRecord(value));
  return { id, iv, data };
}

async function unseal<T>(store: SealedStore, record: SealedRecord): Promise<T> {
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: record.iv, additionalData: additionalData(store, record.id) }, await keyFor(store), record.data);
  return decodeRecord<T>(new Uint8Array(plain));
}

export async function put(store: SealedStore, id: string, value: unknown): Promise<void> {
  const record = await seal(store, id, value);
  await (await db()).put(store, record);
}

/**
 * Every record of a store that opens, oldest first; `unreadable` counts those that do not
 * (sealed under a key since deleted, or damaged): they are left alone.
 */
export async function readAll<T>(store: SealedStore): Promise<{ values: { id: string; value: T }[]; unreadable: number }> {
  const records = await (await db()).getAll(store);
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

export async function has(store: SealedStore, id: string): Promise<boolean> {
  return (await (await db()).count(store, id)) > 0;
}

export async function remove(store: SealedStore, id: string): Promise<void> {
  await (await db()).delete(store, id);
}

/** One transaction: the result is kept and its job leaves the queue, or neither happens. */
export async function completeJob(jobId: string, historyId: string, entry: unknown): Promise<void> {
  const record = await seal('history', historyId, entry);
  const tx = (await db()).transaction(['history', 'queue'], 'readwrite');
  await Promise.all([tx.objectStore('history').put(record), tx.objectStore('queue').delete(jobId), tx.done]);
}

/** Deletes every history record and the history key itself. */
export async function clearHistory(): Promise<void> {
  const tx = (await db()).transaction(['history', 'keys'], 'readwrite');
  keys.delete('history');
  await Promise.all([tx.objectStore('history').clear(), tx.objectStore('keys').delete('history'), tx.done]);
}

export async function getMeta<T>(key: string): Promise<T | undefined> {
  return (await (await db()).get('meta', key)) as T | undefined;
}

export async function setMeta(key: string, value: unknown): Promise<void> {
  await (await db()).put('meta', value, key);
}
