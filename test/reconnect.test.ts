/**
 * An instance shut down under a running client: `medclass classify` behind one address (a
 * small TCP front here, as App Service's is) reconnects, resumes its login on the other
 * instance and finishes every file, each answered once. Two real `medclass serve` processes on
 * one data folder (one database, one identity key).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../server/paths.ts';
import { splitImages } from './golden.ts';
import { ADMIN_PASSWORD, startServerProcess, type ServerProcess } from './server_process.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'medclass-reconnect-'));
let a: ServerProcess;
let b: ServerProcess;
let front: Server;
let frontUrl: string;
const served = { a: 0, b: 0 };

beforeAll(async () => {
  const env = { MEDCLASS_LOG_LEVEL: 'warn' };
  a = await startServerProcess({ dataDir, env });
  b = await startServerProcess({ dataDir, env, args: ['--no-demo'] });
  // one address: connections go to a while it takes them, else to b
  front = createServer((client) => {
    const to = (port: string, name: 'a' | 'b', otherwise?: () => void) => {
      const upstream = connect(Number(port), '127.0.0.1');
      upstream.once('connect', () => {
        served[name]++;
        client.pipe(upstream).pipe(client);
        client.once('error', () => upstream.destroy());
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
      upstream.once('error', () => (otherwise ? otherwise() : client.destroy()));
    };
    to(new URL(a.url).port, 'a', () => to(new URL(b.url).port, 'b'));
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  frontUrl = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
}, 240_000);

afterAll(async () => {
  front?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a client behind one address when its instance shuts down', () => {
  it('medclass classify reconnects to the other instance and answers every file once', async () => {
    expect(b.pin).toBe(a.pin);
    const files = splitImages('breastmnist', 'test', 12);
    const cli = spawn(
      process.execPath,
      [join(PROJECT_ROOT, 'server', 'medclass.js'), 'classify', '--server', frontUrl, '--pin', a.pin, '--user', 'admin', '--password-env', 'MEDCLASS_TEST_PW', '--service', 'demo', '--json', ...files],
      { env: { ...process.env, MEDCLASS_TEST_PW: ADMIN_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let signalled = false;
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    cli.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // a few answers in: the instance it is on is told to stop
      if (!signalled && stdout.split('\n').length > 4) {
        signalled = true;
        a.child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((r) => cli.once('exit', r));
    if (!signalled) throw new Error(`the client ended (${String(code)}) before the shutdown:\n${stdout}\n${stderr}`);
    const aExit = a.child.exitCode ?? (await new Promise((r) => a.child.once('exit', r)));
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; ok: boolean; code?: string; message?: string });
    console.log(`${files.length} files; connections through the front: ${served.a} to a, ${served.b} to b; a exited ${String(aExit)}; client said: ${stderr.trim()}`);
    expect(aExit).toBe(0);
    expect(code).toBe(0);
    expect(lines.map((l) => l.file).sort()).toEqual([...files].sort());
    expect(lines.filter((l) => !l.ok)).toEqual([]);
    expect(served.b).toBeGreaterThan(0);
    expect(stderr).toMatch(/medclass: reconnecting to /);
  }, 240_000);
});
