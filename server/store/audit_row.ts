import type { AuditEntry } from './store.ts';

/** An audit row as both engines' `SELECT * FROM audit` give it (pg gives a BIGINT id as text). */
export interface AuditTableRow {
  id: number | string;
  at: string;
  user: string | null;
  action: string;
  service: string | null;
  model_version: number | null;
  outcome: string;
  detail: string | null;
}

export const auditEntryOf = (r: AuditTableRow): AuditEntry & { id: number } => ({
  id: Number(r.id),
  at: r.at,
  user: r.user,
  action: r.action,
  service: r.service,
  modelVersion: r.model_version,
  outcome: r.outcome,
  detail: r.detail ? (JSON.parse(r.detail) as AuditEntry['detail']) : null,
});

/** The same without the id, for the audit trail. */
export function auditTrailEntryOf(r: AuditTableRow): AuditEntry {
  const { id: _id, ...entry } = auditEntryOf(r);
  return entry;
}
