/**
 * Messages 30 to 41 against a real in-process server: each authorised on its own (admins only
 * for users and the audit), a one-time password good for nothing but changing it, the vault key
 * the same for a user across logins and different between users, the audit search's filters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket } from '../server/client/ws_transport.ts';
import { createLogger } from '../server/log.ts';
import { createMedclassServer, type MedclassServer } from '../server/server.ts';
import { addUser, auditCsv, changePassword, fetchVaultKey, listUsers, queryAudit, resetPassword, setRole } from '../shared/client/account_api.ts';
import { MedclassClient } from '../shared/client/client.ts';
import { parsePin, type Pin } from '../shared/protocol/identity.ts';
import { ADMIN_PASSWORD } from './server_process.ts';

let dir: string;
let server: MedclassServer;
let url: string;
let pin: Pin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'medclass-accounts-'));
  server = await createMedclassServer({ dataDir: dir, adminPassword: ADMIN_PASSWORD, demo: false, logger: createLogger('warn'), threads: 1 });
  url = await server.app.listen({ port: 0, host: '127.0.0.1' });
  pin = await parsePin(server.pin);
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function as(user: string, password: string) {
  const client = await MedclassClient.connect(await connectWebSocket(url), pin);
  const result = await client.login(user, password);
  return { client, result };
}

describe('accounts and audit over the channel', () => {
  it('serves users and the audit to admins only, one-time passwords for changing only, and one vault key per user', async () => {
    const { client: admin } = await as('admin', ADMIN_PASSWORD);
    const first = await addUser(admin, 'ann', 'clinician');
    await addUser(admin, 'ben', 'clinician');
    expect((await listUsers(admin)).find((u) => u.username === 'ann')).toMatchObject({ role: 'clinician', disabled: false, mustChangePassword: true });
    await expect(addUser(admin, 'ann', 'clinician')).rejects.toMatchObject({ code: 'conflict' });

    // a one-time password: nothing but changePassword, and no vault key
    const once = await as('ann', first);
    expect(once.result.mustChangePassword).toBe(true);
    await expect(once.client.listServices()).rejects.toMatchObject({ code: 'passwordChangeRequired' });
    await expect(fetchVaultKey(once.client)).rejects.toMatchObject({ code: 'passwordChangeRequired' });
    await changePassword(once.client, first, 'ann chose this one');
    once.client.close();

    const ann = await as('ann', 'ann chose this one');
    expect(ann.result.mustChangePassword).toBeUndefined();
    // a clinician may not manage users or read the audit trail
    for (const refused of [listUsers(ann.client), addUser(ann.client, 'eve', 'admin'), setRole(ann.client, 'ann', 'admin'), queryAudit(ann.client, {})]) {
      await expect(refused).rejects.toMatchObject({ code: 'forbidden' });
    }
    const annKey = await fetchVaultKey(ann.client);
    expect(annKey.length).toBe(32);
    ann.client.close();
    const again = await as('ann', 'ann chose this one');
    expect(await fetchVaultKey(again.client)).toEqual(annKey);
    again.client.close();

    const benPassword = await resetPassword(admin, 'ben');
    const ben = await as('ben', benPassword);
    await changePassword(ben.client, benPassword, 'ben chose this one');
    ben.client.close();
    const ben2 = await as('ben', 'ben chose this one');
    expect(await fetchVaultKey(ben2.client)).not.toEqual(annKey);
    ben2.client.close();

    // the audit: filters, pages, and no password anywhere
    const forAnn = await queryAudit(admin, { user: 'ann' });
    expect(new Set(forAnn.entries.map((e) => e.user))).toEqual(new Set(['ann']));
    expect(forAnn.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['login', 'changePassword', 'vaultKey', 'listUsers']));
    const adds = await queryAudit(admin, { action: 'addUser' });
    expect(adds.entries.map((e) => [e.user, e.outcome, e.detail?.['target']])).toEqual([
      ['ann', 'forbidden', undefined],
      ['admin', 'conflict', 'ann'],
      ['admin', 'ok', 'ben'],
      ['admin', 'ok', 'ann'],
    ]);
    const page1 = await queryAudit(admin, { limit: 2 });
    expect(page1.more).toBe(true);
    const page2 = await queryAudit(admin, { limit: 2, before: page1.entries[1]!.id });
    expect(page2.entries[0]!.id).toBeLessThan(page1.entries[1]!.id);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect((await queryAudit(admin, { from: tomorrow })).entries).toEqual([]);
    const csv = auditCsv((await queryAudit(admin, { limit: 1000 })).entries);
    for (const secret of [first, benPassword, 'ann chose this one', 'ben chose this one', ADMIN_PASSWORD]) expect(csv).not.toContain(secret);
    admin.close();
  }, 120_000);

  it('writes CSV a spreadsheet will not run as formulas', () => {
    const csv = auditCsv([{ id: 1, at: 't', user: '=cmd()', action: 'a,b', service: null, modelVersion: null, outcome: 'ok', detail: { note: 'say "hi"' } }]);
    expect(csv.split('\r\n')[1]).toBe(`t,'=cmd(),"a,b",,,ok,"{""note"":""say \\""hi\\""""}"`);
  });
});
