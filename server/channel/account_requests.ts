import type { ClientMessage, ServerMessage } from '../../shared/protocol/messages.ts';
import type { AccountsService } from '../accounts/accounts.service.ts';
import type { Role, Store } from '../store/store.ts';

/** Messages 30 to 41 (docs/protocol.md, "Accounts and audit"): one's own password and vault key; users and the audit trail for admins. */
export type AccountRequest = Extract<ClientMessage, { type: 'changePassword' | 'listUsers' | 'addUser' | 'resetPassword' | 'setRole' | 'setDisabled' | 'auditQuery' | 'vaultKey' }>;

const TYPES: ReadonlySet<string> = new Set(['changePassword', 'listUsers', 'addUser', 'resetPassword', 'setRole', 'setDisabled', 'auditQuery', 'vaultKey']);
/** The ones only admins may send; the others any logged-in user, about themselves only. */
export const ADMIN_ACCOUNT_REQUESTS: ReadonlySet<string> = new Set(['listUsers', 'addUser', 'resetPassword', 'setRole', 'setDisabled', 'auditQuery']);

export const isAccountRequest = (m: { type: string }): m is AccountRequest => TYPES.has(m.type);

export interface AccountContext {
  user: { username: string; role: Role };
  accounts: AccountsService;
  store: Store;
  send(message: ServerMessage): Promise<boolean>;
  /** Writes an audit row as this user; `detail` never holds passwords or keys. */
  audit(action: string, outcome: string, detail?: Record<string, string | number | boolean>): Promise<void>;
}

const AUDIT_PAGE = 200;

/** Serves one account request; refusals throw (AuthError, StoreError) and the connection answers `error`. */
export async function handleAccountRequest(m: AccountRequest, c: AccountContext): Promise<unknown> {
  const { requestId } = m;
  const ok = () => c.send({ type: 'ok', requestId });
  switch (m.type) {
    case 'changePassword': {
      try {
        await c.accounts.changeOwnPassword(c.user.username, m.currentPassword, m.newPassword);
      } catch (e) {
        c.audit('changePassword', (e as { code?: string }).code ?? 'failed');
        throw e;
      }
      c.audit('changePassword', 'ok');
      // every session of the user ends now (passwordChanged), this one too: the client logs in again
      return ok();
    }
    case 'vaultKey':
      // the key is not audited as a value, only that it was released
      c.audit('vaultKey', 'ok');
      return c.send({ type: 'vault', requestId, key: await c.accounts.vaultKey(c.user.username) });
    case 'listUsers':
      return c.send({ type: 'users', requestId, users: await c.accounts.listUsers() });
    case 'addUser': {
      const password = await audited(c, 'addUser', { target: m.username, role: m.role }, () => c.accounts.addUser(m.username, m.role));
      return c.send({ type: 'oneTimePassword', requestId, username: m.username, password });
    }
    case 'resetPassword': {
      const password = await audited(c, 'resetPassword', { target: m.username }, () => c.accounts.resetPassword(m.username));
      return c.send({ type: 'oneTimePassword', requestId, username: m.username, password });
    }
    case 'setRole':
      await audited(c, 'setRole', { target: m.username, role: m.role }, () => c.accounts.setRole(m.username, m.role));
      return ok();
    case 'setDisabled':
      await audited(c, m.disabled ? 'disableUser' : 'enableUser', { target: m.username }, () => c.accounts.setDisabled(m.username, m.disabled));
      return ok();
    case 'auditQuery': {
      const limit = Math.min(m.limit ?? AUDIT_PAGE, 1000);
      const to = m.to && /^\d{4}-\d{2}-\d{2}$/.test(m.to) ? `${m.to}T23:59:59.999Z` : m.to;
      const rows = await c.store.searchAudit({ user: m.user, service: m.service, action: m.action, from: m.from, to, before: m.before, limit: limit + 1 });
      c.audit('auditQuery', 'ok', { results: Math.min(rows.length, limit) });
      return c.send({
        type: 'auditEntries',
        requestId,
        more: rows.length > limit,
        entries: rows.slice(0, limit).map((r) => ({
          id: r.id,
          at: r.at,
          user: r.user,
          action: r.action,
          service: r.service ?? null,
          modelVersion: r.modelVersion ?? null,
          outcome: r.outcome,
          detail: r.detail ?? null,
        })),
      });
    }
  }
}

/** Runs an admin's change and audits it, with its outcome code when refused. */
async function audited<T>(c: AccountContext, action: string, detail: Record<string, string>, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    c.audit(action, 'ok', detail);
    return result;
  } catch (e) {
    c.audit(action, (e as { code?: string }).code ?? 'failed', detail);
    throw e;
  }
}
