import { resolve } from 'node:path';
import { DataFolderError } from '../data_folder.ts';
import { ensureClientBuilt } from '../http/app.ts';
import { loadOrCreateIdentity, pinString } from '../identity_file.ts';
import { CliError } from './cli_error.ts';

interface ServeOptions {
  data: string;
  port: string;
  host: string;
  allowOrigin?: string[];
  /** false with --no-demo. */
  demo?: boolean;
}

export async function serveCommand(o: ServeOptions): Promise<void> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  await ensureClientBuilt(say);
  const { createMedclassServer } = await import('../server.ts');
  const adminPassword = process.env['MEDCLASS_ADMIN_PASSWORD'] || undefined;
  const server = await createMedclassServer({ dataDir: o.data, adminPassword, allowedOrigins: o.allowOrigin ?? [], demo: o.demo !== false }).catch((e: unknown) => {
    throw e instanceof DataFolderError ? new CliError(e.message) : e;
  });
  const address = await server.app.listen({ port: Number(o.port), host: o.host });
  say(`MedClass is serving ${address}`);
  say(`data folder: ${resolve(o.data)}`);
  say(`server fingerprint: ${server.fingerprint}`);
  say(`pin (for medclass classify --pin): ${server.pin}`);
  if (server.firstAdmin) {
    say(
      server.firstAdmin.password
        ? `first admin created: user "${server.firstAdmin.username}", one-time password ${server.firstAdmin.password} (shown only now)`
        : `first admin created: user "${server.firstAdmin.username}", password from MEDCLASS_ADMIN_PASSWORD`,
    );
  }
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export async function identityCommand(o: { data: string }): Promise<void> {
  const { identity, created } = await loadOrCreateIdentity(o.data);
  if (created) process.stderr.write(`medclass: a new server identity was made in ${o.data}\n`);
  process.stdout.write(`${pinString(identity)}\n`);
}
