import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from './codec.ts';
import { defaultMode, modesFor } from './modes.ts';
import { clearHistory, completeJob, DB_NAME, has, put, readAll, seal } from './vault.ts';

const rawRecords = (store: string) =>
  new Promise<{ id: string; iv: Uint8Array; data: ArrayBuffer }[]>((resolve, reject) => {
    const open = indexedDB.open(DB_NAME);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const r = open.result.transaction(store).objectStore(store).getAll();
      r.onsuccess = () => {
        resolve(r.result);
        open.result.close();
      };
      r.onerror = () => reject(r.error);
    };
  });

describe('the record codec', () => {
  it('round-trips JSON with bytes anywhere', () => {
    const value = { a: 1, b: 'x', image: { data: new Uint8Array([0, 1, 255]), list: [new Uint8Array(70_000).fill(7)] } };
    const back = decodeRecord<typeof value>(encodeRecord(value));
    expect(back.image.data).toEqual(new Uint8Array([0, 1, 255]));
    expect(back.image.list[0]!.length).toBe(70_000);
    expect(back.a).toBe(1);
  });
});

describe('modes offered for a service', () => {
  it('offers every mode the service accepts, the reduced image first (the default)', () => {
    expect(modesFor({ privacyModes: ['original', 'reduced', 'features'] })).toEqual(['reduced', 'features', 'original']);
    expect(modesFor({ privacyModes: ['features'] })).toEqual(['features']);
    expect(modesFor({ privacyModes: ['original'] })).toEqual(['original']);
    expect(defaultMode({ privacyModes: ['original', 'features'] })).toBe('features');
  });
});

describe('the vault in IndexedDB', () => {
  it('seals records under a non-extractable key, binds them to their id, and clears history with its key', async () => {
    await put('history', 'h1', { label: 'malignant', scores: { malignant: 0.9 } });
    const [stored] = await rawRecords('history');
    expect(Object.keys(stored!).sort()).toEqual(['data', 'id', 'iv']);
    expect(new TextDecoder('latin1').decode(stored!.data)).not.toContain('malignant');
    expect((await readAll<{ label: string }>('history')).values).toEqual([{ id: 'h1', value: { label: 'malignant', scores: { malignant: 0.9 } } }]);

    // a record copied under another id does not open
    const moved = { ...(await seal('history', 'h2', { label: 'benign' })), id: 'h3' };
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(DB_NAME);
      open.onsuccess = () => {
        const tx = open.result.transaction('history', 'readwrite');
        tx.objectStore('history').put(moved);
        tx.oncomplete = () => {
          open.result.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
    });
    expect((await readAll('history')).unreadable).toBe(1);

    await put('queue', 'q1', { image: new Uint8Array([1, 2, 3]) });
    await completeJob('q1', 'h4', { label: 'benign' });
    expect(await has('queue', 'q1')).toBe(false);
    expect(await has('history', 'h4')).toBe(true);

    await clearHistory();
    expect(await rawRecords('history')).toEqual([]);
    // a new key: what was sealed before could not be opened any more
    await put('history', 'h5', { label: 'x' });
    expect((await readAll('history')).values.map((v) => v.id)).toEqual(['h5']);
  });
});
