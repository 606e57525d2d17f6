/**
 * One identity for every instance: `medclass identity --new` makes the key, and `serve` given it
 * (MEDCLASS_IDENTITY_KEY or --identity) presents it, whatever its data folder; with a shared
 * database and no key, `serve` refuses to start. Real processes throughout.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { medclassWith } from './classify_data.ts';
import { startServerProcess } from './server_process.ts';

const dir = mkdtempSync(join(tmpdir(), 'medclass-identity-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PIN = /^sha256\/[A-Za-z0-9_-]{43}\/[A-Za-z0-9_-]+\n$/;

describe('medclass identity --new', () => {
  it('writes a 0600 PKCS#8 key to --out, prints its pin, and never overwrites a key', async () => {
    const file = join(dir, 'identity.pem');
    const made = await medclassWith({}, 'identity', '--new', '--out', file);
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(PIN);
    expect(made.stderr).toContain(`a new identity key is in ${file} (mode 0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);

    // the same pin read back through --identity and through the environment
    const viaFile = await medclassWith({ MEDCLASS_IDENTITY_KEY: '' }, 'identity', '--identity', file, '--data', join(dir, 'unused'));
    expect(viaFile.stdout).toBe(made.stdout);
    const viaEnv = await medclassWith({ MEDCLASS_IDENTITY_KEY: readFileSync(file, 'utf8') }, 'identity', '--data', join(dir, 'unused'));
    expect(viaEnv.stdout).toBe(made.stdout);

    const key = readFileSync(file, 'utf8');
    const again = await medclassWith({}, 'identity', '--new', '--out', file);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^medclass: .*identity\.pem exists; a new key would change the pin every client holds/);
    expect(readFileSync(file, 'utf8')).toBe(key);
  }, 120_000);

  it('prints the key on standard output with --stdout (pin on standard error), and asks where it goes otherwise', async () => {
    const r = await medclassWith({}, 'identity', '--new', '--stdout');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
    const pin = /pin \(for medclass classify --pin and MEDCLASS_PIN\): (\S+)/.exec(r.stderr)?.[1];
    expect(`${pin}\n`).toMatch(PIN);
    const back = await medclassWith({ MEDCLASS_IDENTITY_KEY: r.stdout }, 'identity', '--data', join(dir, 'unused'));
    expect(back.stdout).toBe(`${pin}\n`);

    const nowhere = await medclassWith({}, 'identity', '--new');
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toBe('medclass: say where the new key goes: --out FILE (written with mode 0600) or --stdout (to pipe it into a secret store)\n');
  }, 120_000);
});

describe('medclass serve with a given identity', () => {
  it('refuses a malformed key in one line, before starting', async () => {
    const r = await medclassWith({ MEDCLASS_IDENTITY_KEY: '-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----' }, 'serve', '--data', join(dir, 'bad'), '--port', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^medclass: MEDCLASS_IDENTITY_KEY is not a readable private key \(damaged or cut PEM: "RSA PRIVATE KEY"\); make one with `medclass identity --new/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 120_000);

  it('refuses to start on a shared database without a key, saying how to make one', async () => {
    for (const [env, args] of [
      [{ MEDCLASS_DATABASE_URL: 'postgres://medclass@127.0.0.1:1/medclass', MEDCLASS_IDENTITY_KEY: '' }, []],
      [{ MEDCLASS_IDENTITY_KEY: '' }, ['--database', 'postgres://medclass@127.0.0.1:1/medclass']],
    ] as const) {
      const r = await medclassWith(env, 'serve', '--data', join(dir, 'shared'), '--port', '0', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'medclass: with a shared database every instance needs the same identity key, and none was given: make one with `medclass identity --new --out identity.pem` and give it to every instance as MEDCLASS_IDENTITY_KEY (its PEM text) or --identity FILE\n',
      );
    }
  }, 120_000);

  it('presents the same pin from two data folders given one key, and says where the key came from', async () => {
    const file = join(dir, 'shared.pem');
    const pin = (await medclassWith({}, 'identity', '--new', '--out', file)).stdout.trim();
    const a = await startServerProcess({ env: { MEDCLASS_IDENTITY_KEY: readFileSync(file, 'utf8'), MEDCLASS_LOG_LEVEL: 'warn' }, args: ['--no-demo'] });
    const b = await startServerProcess({ env: { MEDCLASS_IDENTITY_KEY: '', MEDCLASS_LOG_LEVEL: 'warn' }, args: ['--no-demo', '--identity', file] });
    try {
      expect([a.pin, b.pin]).toEqual([pin, pin]);
      expect(a.output()).toContain('(key from MEDCLASS_IDENTITY_KEY)');
      expect(b.output()).toContain(`(key from --identity ${file})`);
      for (const s of [a, b]) {
        const config = (await (await fetch(`${s.url}/api/config`)).json()) as { pin: string };
        expect(config.pin).toBe(pin);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 240_000);
});
