import { resolve } from 'node:path';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.ts';
import { DataFolderError } from '../data_folder.ts';
import { ensureClientBuilt } from '../http/app.ts';
import { parseLimitsJson, type LimitsOverride } from '../channel/limits.ts';
import { loadOrCreateIdentity, pinString } from '../identity_file.ts';
import { CliError } from './cli_error.ts';

interface ServeOptions {
  data: string;
  port: string;
  host: string;
  allowOrigin?: string[];
  /** false with --no-demo. */
  demo?: boolean;
  trustProxy?: string[];
  imagesPerMinute?: string;
}

/** The limits from MEDCLASS_LIMITS (JSON) and --images-per-minute, which wins. */
function limitsFrom(o: ServeOptions): LimitsOverride {
  const env = process.env['MEDCLASS_LIMITS'];
  const limits = env ? parseLimitsJson(env) : {};
  if (o.imagesPerMinute !== undefined) {
    const n = Number(o.imagesPerMinute);
    if (!Number.isInteger(n) || n < 1) throw new CliError('--images-per-minute takes a whole number from 1');
    limits.imagesPerMinute = n;
  }
  return limits;
}

export async function serveCommand(o: ServeOptions): Promise<void> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const adminPassword = process.env['MEDCLASS_ADMIN_PASSWORD'] || undefined;
  if (adminPassword !== undefined && adminPassword.length < MIN_PASSWORD_LENGTH) {
    throw new CliError(`MEDCLASS_ADMIN_PASSWORD has ${adminPassword.length} characters; passwords need at least ${MIN_PASSWORD_LENGTH} (or leave it unset to have one generated)`);
  }
  await ensureClientBuilt(say);
  const { createMedclassServer } = await import('../server.ts');
  const trustedProxies = [...(o.trustProxy ?? []), ...(process.env['MEDCLASS_TRUSTED_PROXIES'] ?? '').split(',')].map((p) => p.trim()).filter(Boolean);
  const server = await createMedclassServer({ dataDir: o.data, adminPassword, allowedOrigins: o.allowOrigin ?? [], demo: o.demo !== false, limits: limitsFrom(o), trustedProxies }).catch((e: unknown) => {
    throw e instanceof DataFolderError ? new CliError(e.message) : e;
  });
  const address = await server.app.listen({ port: Number(o.port), host: o.host });
  say(`MedClass is serving ${address}`);
  say(`data folder: ${resolve(o.data)}`);
  say(`server fingerprint: ${server.fingerprint}`);
  if (trustedProxies.length) say(`client addresses from X-Forwarded-For of: ${trustedProxies.join(', ')}`);
  say(`pin (for medclass classify --pin): ${server.pin}`);
  if (server.firstAdmin) {
    say(
      server.firstAdmin.password
        ? `first admin created: user "${server.firstAdmin.username}", one-time password ${server.firstAdmin.password} (shown only now)`
        : `first admin created: user "${server.firstAdmin.username}", password from MEDCLASS_ADMIN_PASSWORD`,
    );
  }
  if (server.demo) {
    const { version, labels, ms, testAccuracy, testAuc } = server.demo;
    const scores = testAccuracy === null ? '' : `; test accuracy ${testAccuracy}${testAuc === null ? '' : `, AUC ${testAuc}`}`;
    say(`demo service: "demo" v${version} (${labels.join(' / ')}), trained on the bundled BreastMNIST in ${(ms / 1000).toFixed(1)} s${scores}`);
  }
  say(`open ${address} in a browser and log in${server.firstAdmin?.password ? ' as admin with the password above' : ''}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export async function identityCommand(o: { data: string }): Promise<void> {
  const { identity, created } = await loadOrCreateIdentity(o.data);
  if (created) process.stderr.write(`medclass: a new server identity was made in ${o.data}\n`);
  process.stdout.write(`${pinString(identity)}\n`);
}
