/**
 * The client commands against a real `medclass serve` process: the forms of --server people
 * type, and a server that is not there.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { medclassWith } from './classify_data.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ env: { MEDCLASS_LOG_LEVEL: 'warn' } });
}, 180_000);
afterAll(() => server?.stop());

const services = (address: string) =>
  medclassWith({ MEDCLASS_TEST_PW: ADMIN_PASSWORD }, 'services', '--server', address, '--pin', server.pin, '--user', 'admin', '--password-env', 'MEDCLASS_TEST_PW', '--json');

describe('medclass services and classify: --server', () => {
  it.each([
    ['the web address', (port: string) => `http://127.0.0.1:${port}`],
    ['a ws:// URL', (port: string) => `ws://127.0.0.1:${port}`],
    ['the channel URL', (port: string) => `ws://127.0.0.1:${port}/ws`],
    ['host:port alone', (port: string) => `127.0.0.1:${port}`],
  ])('reaches the server given as %s', async (_, form) => {
    const r = await services(form(new URL(server.url).port));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { name: string }[]).map((s) => s.name)).toEqual(['demo']);
  });

  it('says which server could not be reached and why, in one line with status 2', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await services(`ws://127.0.0.1:${port}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^medclass: cannot reach the MedClass server at (http|ws)://127\\.0\\.0\\.1:${port}/(ws)?: nothing is listening there \\(is the server running, and on this port\\?\\)\\n$`));
    expect(r.stderr).not.toContain('fetch failed');
  });

  it('refuses an address it cannot read and says what to type', async () => {
    const r = await services('ftp://127.0.0.1:1');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('medclass: --server ftp://127.0.0.1:1: use http://, https://, ws:// or wss:// (or no scheme for http)\n');
  });
});

describe('medclass serve', () => {
  it('refuses a short MEDCLASS_ADMIN_PASSWORD in one line, without a stack', async () => {
    const r = await medclassWith({ MEDCLASS_ADMIN_PASSWORD: 'too short' }, 'serve', '--data', '/nonexistent/medclass-never-made', '--port', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('medclass: MEDCLASS_ADMIN_PASSWORD has 9 characters; passwords need at least 12 (or leave it unset to have one generated)\n');
  });

  it('prints the address, the pin, the first admin and the demo service, and no build noise', () => {
    const out = server.output();
    expect(out).toMatch(/^MedClass is serving http:\/\/127\.0\.0\.1:\d+\n/);
    expect(out).toMatch(/\npin \(for medclass classify --pin\): sha256\/\S+\n/);
    expect(out).toMatch(/\nfirst admin created: user "admin", password from MEDCLASS_ADMIN_PASSWORD\n/);
    expect(out).toMatch(/\ndemo service: "demo" v1 \(malignant \/ normal-or-benign\), trained on the bundled BreastMNIST in [\d.]+ s; test accuracy 0\.\d+, AUC 0\.\d+\n/);
    expect(out).not.toMatch(/externalized|\{"level"/);
  });
});
