/** The vault's place in the session: opened after login with the user's key from the server, locked at logout. */
import { fetchVaultKey } from '../../shared/client/account_api.ts';
import type { MedclassClient } from '../../shared/client/client.ts';
import { lockVault, unlockVault, vaultUnlocked } from './vault.ts';

const listeners = new Set<() => void>();

/** Asks the server for this user's vault key (inside the channel) and opens the vault with it. */
export async function openVault(client: Pick<MedclassClient, 'request'>): Promise<void> {
  if (vaultUnlocked()) return;
  await unlockVault(await fetchVaultKey(client));
  for (const l of listeners) l();
}

/** Called once the vault opens (the history and queue can then be read). */
export function onVaultOpen(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export { lockVault };
