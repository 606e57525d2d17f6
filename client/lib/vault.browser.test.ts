import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from './codec.ts';
import { defaultMode, modesFor } from './modes.ts';
import { clearHistory, completeJob, DB_NAME, get, has, lockVault, namedId, put, readAll, remove, reopenVault, seal, unlockVault, VaultLocked, wipeVault } from './vault.ts';

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
    // on this device last, and the default only where it is all the version allows
    expect(modesFor({ privacyModes: ['device', 'reduced'] })).toEqual(['reduced', 'device']);
    expect(defaultMode({ privacyModes: ['device'] })).toBe('device');
  });
});

describe('the vault in IndexedDB', () => {
  it('seals records under a non-extractable key, binds them to their id, and clears history with its key', async () => {
    await unlockVault(crypto.getRandomValues(new Uint8Array(32)));
    await put('history', 'h1', { label: 'malignant', scores: { malignant: 0.9 } });
    const [stored] = await rawRecords('history');
    expect(Object.keys(stored!).sort()).toEqual(['data', 'id', 'iv', 'owner']);
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

  it('gives each user their own vault: two users of one profile cannot read each other\'s history or queue, and logout locks it', async () => {
    const alice = crypto.getRandomValues(new Uint8Array(32));
    const bob = crypto.getRandomValues(new Uint8Array(32));
    await unlockVault(alice);
    await wipeVault();
    await put('history', 'a-h', { name: 'DOE_JANE.png', label: 'malignant' });
    await put('queue', 'a-q', { name: 'ROE_RICHARD.png', image: new Uint8Array([9, 9, 9]) });
    lockVault();
    // locked: nothing opens, nothing is sealed
    await expect(readAll('history')).rejects.toBeInstanceOf(VaultLocked);
    await expect(put('history', 'x', { a: 1 })).rejects.toBeInstanceOf(VaultLocked);
    expect(sessionStorage.getItem('medclass.vault')).toBeNull();
    expect(await reopenVault()).toBe(false);

    await unlockVault(bob);
    // bob sees none of alice's records, and none counts as unreadable: they are never tried
    expect(await readAll('history')).toEqual({ values: [], unreadable: 0 });
    expect(await readAll('queue')).toEqual({ values: [], unreadable: 0 });
    expect(await has('queue', 'a-q')).toBe(false);
    await remove('queue', 'a-q'); // not his: left alone
    await put('history', 'b-h', { name: 'bob.png', label: 'benign' });
    // the raw records name no user and hold no plaintext
    const raw = await rawRecords('history');
    const ownerOf = (id: string) => (raw.find((r) => r.id === id) as unknown as { owner: string }).owner;
    expect(ownerOf('a-h')).not.toBe(ownerOf('b-h'));
    expect(ownerOf('a-h')).toMatch(/^[0-9a-f]{32}$/);
    for (const r of raw) expect(new TextDecoder('latin1').decode(r.data)).not.toMatch(/DOE_JANE|bob\.png/);
    // bob's key moved under alice's records does not open them either (bound to the owner)
    await wipeVault();
    expect((await readAll('history')).values).toEqual([]);
    lockVault();

    await unlockVault(alice);
    expect((await readAll<{ name: string }>('history')).values.map((v) => v.value.name)).toEqual(['DOE_JANE.png']);
    expect((await readAll<{ name: string }>('queue')).values.map((v) => v.value.name)).toEqual(['ROE_RICHARD.png']);
    // a reload in the same tab reopens it from sessionStorage; logout drops that too
    expect(sessionStorage.getItem('medclass.vault')).not.toBeNull();
    await wipeVault();
    expect(await readAll('queue')).toEqual({ values: [], unreadable: 0 });
    lockVault();
  });

  it('keeps downloaded models sealed under an id that names neither the service nor the user, per user, and wipes them with the rest', async () => {
    const alice = crypto.getRandomValues(new Uint8Array(32));
    await unlockVault(alice);
    const id = await namedId('models', 'breast-us');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await namedId('models', 'breast-us')).toBe(id);
    expect(await namedId('models', 'retina')).not.toBe(id);
    await put('models', id, { service: 'breast-us', version: 3, document: '{"format":"medclass-model","weights":"SECRETWEIGHTS"}' });
    const [raw] = await rawRecords('models');
    expect(raw!.id).toBe(id);
    expect(new TextDecoder('latin1').decode(raw!.data)).not.toMatch(/breast-us|SECRETWEIGHTS/);
    expect(await get<{ version: number }>('models', id)).toMatchObject({ service: 'breast-us', version: 3 });
    lockVault();

    // another user of the profile derives another id and cannot open alice's
    await unlockVault(crypto.getRandomValues(new Uint8Array(32)));
    expect(await namedId('models', 'breast-us')).not.toBe(id);
    expect(await get('models', id)).toBeUndefined();
    lockVault();

    await unlockVault(alice);
    await wipeVault();
    expect(await rawRecords('models')).toEqual([]);
    lockVault();
  });
});
