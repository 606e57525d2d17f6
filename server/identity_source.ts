import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { exportIdentity, generateIdentity, importIdentity, type ServerIdentity } from '../shared/protocol/identity.ts';
import { loadOrCreateIdentity } from './identity_file.ts';

/**
 * Where the server's signing key comes from. Several instances behind one address must present
 * one key, or a client pinned to one would refuse the others: so with a shared database the key
 * is given to every instance (MEDCLASS_IDENTITY_KEY, e.g. an App Service setting backed by Key
 * Vault, or --identity FILE) and never made per data folder. Alone on SQLite, the data folder's
 * key (made at first start) stays the default.
 */
export const IDENTITY_KEY_ENV = 'MEDCLASS_IDENTITY_KEY';

export class IdentityError extends Error {
  override name = 'IdentityError';
}

export const HOW_TO_MAKE_ONE = `make one with \`medclass identity --new --out identity.pem\` and give it to every instance as ${IDENTITY_KEY_ENV} (its PEM text) or --identity FILE`;

/**
 * App Service settings and shells often flatten a PEM: newlines become spaces or a literal
 * "\n". Rebuild the armour from its base64 body so that those still load.
 */
function normalisePem(text: string): string {
  const flat = text.replace(/\\n/g, '\n').trim();
  const m = /^-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----$/.exec(flat);
  if (!m) return flat;
  const body = m[2]!.replace(/\s+/g, '');
  return `-----BEGIN ${m[1]}-----\n${body.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END ${m[1]}-----\n`;
}

/** The key in `text`, checked to be what the protocol signs with (ECDSA P-256) and given as PKCS#8; `from` names it in errors. */
export async function identityFromPem(text: string, from: string): Promise<ServerIdentity> {
  const pem = normalisePem(text);
  const label = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (!label) throw new IdentityError(`${from} is not a PEM key (no "-----BEGIN PRIVATE KEY-----" line); ${HOW_TO_MAKE_ONE}`);
  if (label === 'ENCRYPTED PRIVATE KEY') throw new IdentityError(`${from} is an encrypted key; give it unencrypted (keep it secret in Key Vault or a 0600 file instead)`);
  if (label === 'PUBLIC KEY' || label === 'CERTIFICATE') throw new IdentityError(`${from} holds a ${label.toLowerCase()}, not the private key; the server needs the private key`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new IdentityError(`${from} is not a readable private key (damaged or cut PEM: "${label}"); ${HOW_TO_MAKE_ONE}`);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${curve ?? 'an unknown curve'}` : `an ${key.asymmetricKeyType?.toUpperCase() ?? 'unknown'} key`;
    throw new IdentityError(`${from} is ${what}; the server identity must be an ECDSA P-256 key: ${HOW_TO_MAKE_ONE}`);
  }
  if (label !== 'PRIVATE KEY') {
    throw new IdentityError(`${from} is a P-256 key in the "${label}" form; give it as PKCS#8 ("BEGIN PRIVATE KEY"): openssl pkcs8 -topk8 -nocrypt -in OLD.pem -out identity.pem`);
  }
  return importIdentity(new Uint8Array(key.export({ format: 'der', type: 'pkcs8' })));
}

export interface IdentityChoice {
  /** --identity FILE. */
  identityFile?: string | undefined;
  /** Set when a shared database (Postgres) was chosen: the data folder's key is then no answer. */
  databaseUrl?: string | undefined;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
}

/** The key this server presents, and where it came from (for the start-up lines). */
export async function resolveIdentity(o: IdentityChoice): Promise<{ identity: ServerIdentity; source: string; created: boolean }> {
  const env = o.env ?? process.env;
  // the flag wins over the environment, as elsewhere on the command line
  if (o.identityFile !== undefined) {
    let text: string;
    try {
      if (!statSync(o.identityFile).isFile()) throw new Error('not a file');
      text = readFileSync(o.identityFile, 'utf8');
    } catch (e) {
      throw new IdentityError(`--identity ${o.identityFile}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return { identity: await identityFromPem(text, `--identity ${o.identityFile}`), source: `--identity ${o.identityFile}`, created: false };
  }
  const fromEnv = env[IDENTITY_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { identity: await identityFromPem(fromEnv, IDENTITY_KEY_ENV), source: IDENTITY_KEY_ENV, created: false };
  }
  if (o.databaseUrl) {
    throw new IdentityError(`with a shared database every instance needs the same identity key, and none was given: ${HOW_TO_MAKE_ONE}`);
  }
  const { identity, created } = await loadOrCreateIdentity(o.dataDir);
  return { identity, source: 'the data folder', created };
}

/** A new identity as PKCS#8 PEM, with the key re-imported from that text (so what is saved is what serves). */
export async function newIdentityPem(): Promise<{ pem: string; identity: ServerIdentity }> {
  const pem = await exportIdentity(await generateIdentity(), 'pem');
  return { pem, identity: await identityFromPem(pem, 'the new key') };
}
