import { resolve } from 'node:path';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.ts';
import { DataFolderError } from '../data_folder.ts';
import { ensureClientBuilt } from '../http/app.ts';
import { parseLimitsJson, type LimitsOverride } from '../channel/limits.ts';
import { pinString } from '../identity_file.ts';
import { IdentityError, newIdentityPem, resolveIdentity } from '../identity_source.ts';
import { errorMessage } from '../../shared/errors.ts';
import { CliError } from './cli_error.ts';

/** The hard limit on a shutdown (App Service and most orchestrators kill after 10 s or more) ... */
const SHUTDOWN_MS = 10_000;
/** ... of which requests in flight get this much; the rest is for closing down (audit rows, workers). */
const DRAIN_GRACE_MS = 7_000;

interface ServeOptions {
  data: string;
  port: string;
  host: string;
  allowOrigin?: string[];
  /** false with --no-demo. */
  demo?: boolean;
  trustProxy?: string[];
  imagesPerMinute?: string;
  /** --identity FILE: the server key (PKCS#8 PEM); also MEDCLASS_IDENTITY_KEY. */
  identity?: string;
  /** --database URL: a shared database (also MEDCLASS_DATABASE_URL). */
  database?: string;
}

/** The shared database chosen, if any: --database wins over MEDCLASS_DATABASE_URL. */
const databaseUrlOf = (o: { database?: string }): string | undefined => o.database || process.env['MEDCLASS_DATABASE_URL'] || undefined;

const identityOf = (o: { identity?: string; database?: string; data: string }) =>
  resolveIdentity({ identityFile: o.identity, databaseUrl: databaseUrlOf(o), dataDir: o.data }).catch((e: unknown) => {
    throw e instanceof IdentityError ? new CliError(e.message) : e;
  });

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
  // before anything slow: a missing or bad key is the commonest mistake of a new deployment
  const { identity, source } = await identityOf(o);
  await ensureClientBuilt(say);
  const { createMedclassServer } = await import('../server.ts');
  const trustedProxies = [...(o.trustProxy ?? []), ...(process.env['MEDCLASS_TRUSTED_PROXIES'] ?? '').split(',')].map((p) => p.trim()).filter(Boolean);
  const server = await createMedclassServer({ dataDir: o.data, identity, adminPassword, allowedOrigins: o.allowOrigin ?? [], demo: o.demo !== false, limits: limitsFrom(o), trustedProxies }).catch((e: unknown) => {
    throw e instanceof DataFolderError ? new CliError(e.message) : e;
  });
  const address = await server.app.listen({ port: Number(o.port), host: o.host });
  say(`MedClass is serving ${address}`);
  say(`data folder: ${resolve(o.data)}`);
  say(`server fingerprint: ${server.fingerprint} (key from ${source})`);
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
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      say(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    say(`${signal}: shutting down (answering the requests in flight, at most ${SHUTDOWN_MS / 1000} s)`);
    const late = setTimeout(() => {
      say(`shutdown took over ${SHUTDOWN_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_MS);
    late.unref();
    server.drain(DRAIN_GRACE_MS).then(
      () => {
        say('shut down');
        process.exit(0);
      },
      (e: unknown) => {
        say(`shutdown failed: ${errorMessage(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

interface IdentityOptions {
  data: string;
  identity?: string;
  database?: string;
  /** --new: make a key instead of reading one. */
  new?: boolean;
  out?: string;
  stdout?: boolean;
}

/**
 * Prints the pin of the key `serve` would present; with --new makes a key (for every instance of
 * a deployment) into --out FILE (0600, never over an existing file) or onto standard output.
 */
export async function identityCommand(o: IdentityOptions): Promise<void> {
  if (!o.new) {
    if (o.out || o.stdout) throw new CliError('--out and --stdout go with --new (making a key); without it `medclass identity` prints the pin');
    const { identity, created } = await identityOf(o);
    if (created) process.stderr.write(`medclass: a new server identity was made in ${o.data}\n`);
    process.stdout.write(`${pinString(identity)}\n`);
    return;
  }
  if (!o.out === !o.stdout) throw new CliError('say where the new key goes: --out FILE (written with mode 0600) or --stdout (to pipe it into a secret store)');
  const { pem, identity } = await newIdentityPem();
  if (o.stdout) {
    process.stdout.write(pem);
    process.stderr.write(`pin (for medclass classify --pin and MEDCLASS_PIN): ${pinString(identity)}\n`);
    return;
  }
  const { writeFile } = await import('node:fs/promises');
  await writeFile(o.out!, pem, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(
      e.code === 'EEXIST'
        ? `${o.out} exists; a new key would change the pin every client holds: choose another file, or remove that one first`
        : `cannot write ${o.out}: ${e.code ?? e.message}`,
    );
  });
  process.stderr.write(`medclass: a new identity key is in ${o.out} (mode 0600); give it to every instance as MEDCLASS_IDENTITY_KEY (its text) or --identity ${o.out}\n`);
  process.stdout.write(`${pinString(identity)}\n`);
}
