/**
 * Messages 30 to 41 over a connected client (docs/protocol.md, "Accounts and audit"): one's
 * own password and vault key, and for admins the users and the audit trail.
 */
import type { AuditEntryInfo, MessageOf, ServerMessage, UserInfo } from '../protocol/messages.ts';
import { ClientError, MedclassClient } from './client.ts';

type Requester = Pick<MedclassClient, 'request'>;
const rid = () => MedclassClient.newRequestId();

function expectType<T extends ServerMessage['type']>(m: ServerMessage, type: T): Extract<ServerMessage, { type: T }> {
  if (m.type !== type) throw new ClientError('badMessage', `expected ${type}, the server sent ${m.type}`);
  return m as Extract<ServerMessage, { type: T }>;
}

/**
 * Changes one's own password. The server then ends every login of the user, this connection's
 * too (close 4042): that close, arriving before the `ok`, also means it was done.
 */
export async function changePassword(c: Requester, currentPassword: string, newPassword: string): Promise<void> {
  try {
    await c.request({ type: 'changePassword', requestId: rid(), currentPassword, newPassword });
  } catch (e) {
    if (!(e instanceof ClientError && e.code === 'passwordChanged')) throw e;
  }
}

export async function fetchVaultKey(c: Requester): Promise<Uint8Array> {
  return expectType(await c.request({ type: 'vaultKey', requestId: rid() }), 'vault').key;
}

export async function listUsers(c: Requester): Promise<UserInfo[]> {
  return expectType(await c.request({ type: 'listUsers', requestId: rid() }), 'users').users;
}

/** Adds a user; resolves with their one-time password (shown once, changed at their first login). */
export async function addUser(c: Requester, username: string, role: UserInfo['role']): Promise<string> {
  return expectType(await c.request({ type: 'addUser', requestId: rid(), username, role }), 'oneTimePassword').password;
}

export async function resetPassword(c: Requester, username: string): Promise<string> {
  return expectType(await c.request({ type: 'resetPassword', requestId: rid(), username }), 'oneTimePassword').password;
}

export async function setRole(c: Requester, username: string, role: UserInfo['role']): Promise<void> {
  await c.request({ type: 'setRole', requestId: rid(), username, role });
}

export async function setDisabled(c: Requester, username: string, disabled: boolean): Promise<void> {
  await c.request({ type: 'setDisabled', requestId: rid(), username, disabled });
}

export type AuditFilter = Omit<MessageOf<'auditQuery'>, 'type' | 'requestId'>;

export async function queryAudit(c: Requester, filter: AuditFilter): Promise<{ entries: AuditEntryInfo[]; more: boolean }> {
  const { entries, more } = expectType(await c.request({ type: 'auditQuery', requestId: rid(), ...filter }), 'auditEntries');
  return { entries, more };
}

const CSV_COLUMNS = ['at', 'user', 'action', 'service', 'modelVersion', 'outcome', 'detail'] as const;

/** RFC 4180 CSV; a cell that a spreadsheet would run as a formula is quoted with a leading apostrophe. */
export function auditCsv(entries: readonly AuditEntryInfo[]): string {
  const cell = (v: unknown): string => {
    let s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [CSV_COLUMNS.join(','), ...entries.map((e) => CSV_COLUMNS.map((k) => cell(e[k])).join(','))].join('\r\n') + '\r\n';
}
