import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../server/paths.ts';

export const ADMIN_PASSWORD = 'an admin password for tests';

export interface ServerProcess {
  url: string;
  pin: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port nothing listens on now (127.0.0.1). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * A real `medclass serve` process from this checkout's sources, on a fresh data folder and a
 * free port, with the first admin's password set. Resolves once it listens.
 */
export async function startServerProcess(options: { dataDir?: string; env?: Record<string, string>; args?: string[] } = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'medclass-server-'));
  const port = await freePort();
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'server', 'medclass.js'), 'serve', '--data', dataDir, '--port', String(port), ...(options.args ?? [])], {
    env: { ...process.env, MEDCLASS_ADMIN_PASSWORD: ADMIN_PASSWORD, MEDCLASS_LOG_LEVEL: 'debug', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test run that is killed must not leave servers behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let stopping = false;
  // A server that dies under a test shows there only as closed connections: say why it died.
  child.once('exit', (code, signal) => {
    if (!stopping && (signal !== null || code !== 0)) process.stderr.write(`medclass serve on port ${port} exited before stop() (${signal ?? `code ${code}`}); its last output:\n${out.slice(-6000)}\n`);
  });
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 120 s:\n${out}`)), 120_000);
    const check = () => {
      // the pin is printed after the address: wait for it, not only the first line
      if (/pin \(for medclass classify --pin\): \S+\n/.test(out)) {
        clearTimeout(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`server exited (${child.exitCode}):\n${out}`));
      } else setTimeout(check, 50);
    };
    check();
  });
  const pin = /pin \(for medclass classify --pin\): (\S+)/.exec(out)![1]!;
  return {
    url,
    pin,
    dataDir,
    child,
    output: () => out,
    async stop() {
      stopping = true;
      // a process ended by a signal keeps exitCode null: its 'exit' has been and will not come again
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
