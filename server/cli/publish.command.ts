import { readFile } from 'node:fs/promises';
import { parseModel } from '../../shared/classify/model.ts';
import { errorMessage } from '../../shared/errors.ts';
import { PRIVACY_MODES, type PrivacyMode } from '../store/store.ts';
import { CliError } from './cli_error.ts';
import { openStore } from './user.command.ts';

export async function publishCommand(modelPath: string, o: { service: string; data: string; description: string; modes: string }): Promise<void> {
  const text = await readFile(modelPath, 'utf8').catch((e: unknown) => {
    throw new CliError(`cannot read ${modelPath}: ${errorMessage(e)}`);
  });
  let labels: string[];
  try {
    labels = parseModel(text).labels;
  } catch (e) {
    throw new CliError(errorMessage(e));
  }
  const modes = o.modes.split(',').map((m) => m.trim());
  const bad = modes.filter((m) => !(PRIVACY_MODES as readonly string[]).includes(m));
  if (bad.length || modes.length === 0) throw new CliError(`--modes takes ${PRIVACY_MODES.join(', ')}; got ${o.modes}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(o.service)) throw new CliError('a service name is 1 to 64 of A-Z a-z 0-9 . _ -');
  const store = openStore(o.data);
  try {
    const v = await store.publish({ service: o.service, description: o.description, privacyModes: modes as PrivacyMode[], model: text, createdBy: 'medclass publish' });
    await store.audit({ at: v.createdAt, user: null, action: 'publish', service: o.service, modelVersion: v.version, outcome: 'ok', detail: { via: 'cli' } });
    process.stdout.write(`published ${o.service} version ${v.version} (labels ${labels.join(', ')})\n`);
  } finally {
    await store.close();
  }
}
