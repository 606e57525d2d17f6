import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.store.ts';
import { AccountsService } from './accounts.service.ts';
import { addressKey, DEFAULT_LOGIN_LIMITS, LoginGuard, LoginRefused } from './login_guard.ts';

let clock = 1_000_000;
const now = () => clock;

describe('addressKey', () => {
  it('drops ports (Azure writes ip:port), unmaps IPv4 in IPv6 and groups IPv6 by /64', () => {
    expect(addressKey('203.0.113.5:54321')).toBe('203.0.113.5');
    expect(addressKey('203.0.113.5')).toBe('203.0.113.5');
    expect(addressKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(addressKey('[2001:db8:1:2:aaaa::1]:443')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('LoginGuard', () => {
  it('counts an attempt when it starts: concurrent guesses cannot pass the address ceiling', () => {
    const guard = new LoginGuard(undefined, {}, now);
    let admitted = 0;
    for (let i = 0; i < 40; i++) {
      try {
        guard.begin(`user${i}`, '198.51.100.1');
        admitted++;
      } catch (e) {
        expect(e).toBeInstanceOf(LoginRefused);
      }
    }
    expect(admitted).toBe(DEFAULT_LOGIN_LIMITS.perAddressPerMinute);
    // another address is not affected
    expect(() => guard.begin('user0', '198.51.100.2')).not.toThrow();
    clock += 60_000;
    expect(() => guard.begin('user0', '198.51.100.1')).not.toThrow();
  });

  it('delays a (user, address) pair progressively, and a success in between changes nothing for a concurrent failure', () => {
    const guard = new LoginGuard(undefined, {}, now);
    const a = [0, 1, 2].map(() => guard.begin('alice', '198.51.100.3'));
    expect(() => guard.begin('alice', '198.51.100.3')).toThrow(/try again in 1 s/);
    a[0]!.succeeded(); // clears the pair: the others' failures still count after it, without throwing
    expect(() => a[1]!.failed()).not.toThrow();
    a[2]!.failed();
    clock += 1;
    expect(() => guard.begin('alice', '198.51.100.3')).not.toThrow();
  });

  it('keeps a client with a device token in its own allowance while strangers fail from everywhere', () => {
    const guard = new LoginGuard(undefined, {}, now);
    clock += 10 * 60_000;
    const device = guard.issueDeviceToken('alice');
    for (let i = 0; i < 1000; i++) {
      try {
        guard.begin('alice', `10.0.${i >> 8}.${i & 255}`).failed();
      } catch {
        // refused before hashing
      }
    }
    expect(() => guard.begin('alice', '10.9.9.9')).toThrow(/unknown devices/);
    const mine = guard.begin('alice', '10.0.0.1', device);
    expect(mine.trusted).toBe(true);
    // a token is bound to its user: it does not help against bob
    expect(guard.begin('bob', '10.9.9.8', device).trusted).toBe(false);
    // a forged token is no token: alice is still closed to untrusted clients
    expect(() => guard.begin('alice', '10.9.9.7', 'forged.token')).toThrow(/unknown devices/);
  });

  it('holds at most maxEntries keys per map, whatever names and addresses come', () => {
    const guard = new LoginGuard(undefined, { maxEntries: 100, globalPerMinute: 1e9 }, now);
    for (let i = 0; i < 5000; i++) guard.begin(`n${i}`, `10.1.${i >> 8}.${i & 255}`).failed();
    expect(guard.entries).toBeLessThanOrEqual(300);
  });

  it('runs at most maxConcurrentHashes at once, trusted attempts first', async () => {
    const guard = new LoginGuard(undefined, { maxConcurrentHashes: 2, perAddressPerMinute: 100 }, now);
    const order: string[] = [];
    const attempts = [0, 1, 2, 3].map((i) => guard.begin(`u${i}`, '10.2.0.1'));
    const trusted = guard.begin('t', '10.2.0.1', guard.issueDeviceToken('t'));
    const slots = [...attempts, trusted].map((a, i) => a.hashSlot().then(() => order.push(i === 4 ? 'trusted' : `u${i}`)));
    await Promise.resolve();
    expect(guard.hashing).toEqual({ running: 2, waiting: 3 });
    attempts[0]!.release();
    await Promise.resolve();
    attempts[1]!.release();
    await Promise.resolve();
    trusted.release();
    attempts[2]!.release();
    attempts[3]!.release();
    await Promise.all(slots);
    expect(order.slice(0, 3)).toEqual(['u0', 'u1', 'trusted']);
    expect(guard.hashing).toEqual({ running: 0, waiting: 0 });
  });
});

/** A new SQLite store in a new folder for each test of the calling describe block. */
function freshStore(): () => SqliteStore {
  let dir = '';
  let current: SqliteStore | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'medclass-guard-'));
    current = new SqliteStore(join(dir, 'medclass.db'));
  });
  afterEach(async () => {
    await current?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => current!;
}

describe('AccountsService with the guard', () => {
  const store = freshStore();

  it('lets 40 parallel guesses through no more than the limits, and audits unknown names as "unknown"', async () => {
    const accounts = new AccountsService(store(), now);
    await accounts.createUser('nurse', 'correct horse battery', 'clinician');
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => accounts.login('nurse', 'wrong guess here', { address: '192.0.2.9' })));
    const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'));
    expect(codes.filter((c) => c === 'badCredentials')).toHaveLength(DEFAULT_LOGIN_LIMITS.freeFailures);
    expect(codes.filter((c) => c === 'tooManyAttempts')).toHaveLength(40 - DEFAULT_LOGIN_LIMITS.freeFailures);
    expect(await accounts.auditName('nurse')).toBe('nurse');
    expect(await accounts.auditName('my secret password')).toBe('unknown');
    // the user's own client, from another address, logs in; its device token keeps it trusted next time
    const session = await accounts.login('nurse', 'correct horse battery', { address: '192.0.2.10' });
    expect(session.deviceToken).toMatch(/^[\w-]+\.[\w-]+$/);
  }, 60_000);

  it('takes waiting attempts by address in turn: a flood from one address does not hold another address back', async () => {
    const guard = new LoginGuard(undefined, { maxConcurrentHashes: 1, perAddressPerMinute: 100 }, now);
    const order: string[] = [];
    const flood = Array.from({ length: 6 }, (_, i) => guard.begin(`f${i}`, '10.3.0.1'));
    const other = guard.begin('nurse', '10.3.0.2');
    const all = [...flood.map((a, i) => [a, `f${i}`] as const), [other, 'nurse'] as const];
    const done = all.map(([a, name]) => a.hashSlot().then(() => order.push(name)));
    await Promise.resolve();
    for (let i = 0; i < all.length; i++) {
      const running = all.find(([, name]) => order.includes(name) && !released.has(name));
      released.add(running![1]);
      running![0].release();
      await Promise.resolve();
    }
    await Promise.all(done);
    // f0 was running; the next turn is the other address's
    expect(order.slice(0, 2)).toEqual(['f0', 'nurse']);
  });
});
const released = new Set<string>();

describe('LoginGuard with a shared store (two instances on one database)', () => {
  const store = freshStore();

  it('counts the address ceiling across guards, and a refused attempt takes no strike', async () => {
    const a = new LoginGuard(undefined, {}, now, store());
    const b = new LoginGuard(undefined, {}, now, store());
    for (let i = 0; i < DEFAULT_LOGIN_LIMITS.perAddressPerMinute; i++) (await (i % 2 ? a : b).admit(`user${i}`, '198.51.100.9')).failed();
    // each guard alone has seen 5 of the 10: only the shared count refuses
    await expect(a.admit('user99', '198.51.100.9')).rejects.toThrow(/from this address; try again in \d+ s/);
    await expect(b.admit('user98', '198.51.100.9')).rejects.toThrow(LoginRefused);
    // the refusals gave their strikes back: one more minute and the address may try again
    clock += 60_000;
    await expect(a.admit('user97', '198.51.100.9')).resolves.toMatchObject({ trusted: false });
    expect(await store().addToCounter('login:address:198.51.100.9', Math.floor(clock / 60_000) * 60_000, 0)).toBe(1);
  });

  it('counts the per-user ceiling across guards, and a success gives its strikes back', async () => {
    const limits = { perUserUntrusted: 4 };
    const a = new LoginGuard(undefined, limits, now, store());
    const b = new LoginGuard(undefined, limits, now, store());
    const ok = await a.admit('carol', '10.1.0.1');
    ok.succeeded();
    await new Promise((r) => setTimeout(r, 50)); // the give-back is not awaited by `succeeded`
    for (let i = 0; i < 4; i++) (await (i % 2 ? a : b).admit('carol', `10.2.0.${i}`)).failed();
    await expect(b.admit('carol', '10.3.0.1')).rejects.toThrow(/for this user from unknown devices/);
    await expect(a.admit('dave', '10.3.0.1')).resolves.toMatchObject({ trusted: false });
  });
});
