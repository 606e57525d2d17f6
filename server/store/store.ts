/**
 * Everything the server keeps: users, login tokens, hosted services with their model
 * versions, and the audit trail. Never images. SQLite (sqlite.store.ts) is the embedded
 * default; a Postgres store would implement the same interface.
 */
import type { VersionSummary } from './version_summary.ts';

export type { VersionSummary } from './version_summary.ts';
export type Role = 'admin' | 'clinician';
export const PRIVACY_MODES = ['original', 'reduced', 'features'] as const;
export type PrivacyMode = (typeof PRIVACY_MODES)[number];

export interface User {
  id: number;
  username: string;
  role: Role;
  passwordHash: string;
  createdAt: string;
  /** A disabled user cannot log in, and their live sessions end (close 4044). */
  disabled: boolean;
  /** Set by an admin's reset (a one-time password): the user may only change it until they do. */
  mustChangePassword: boolean;
}

export type NewUser = Omit<User, 'id' | 'createdAt' | 'disabled' | 'mustChangePassword'> & { mustChangePassword?: boolean };
/** What an admin (or the CLI) may change about a user; undefined fields stay as they are. */
export interface UserChanges {
  passwordHash?: string;
  role?: Role;
  disabled?: boolean;
  mustChangePassword?: boolean;
}

/** What the audit view asks for: each field narrows, all together; newest first. */
export interface AuditQuery {
  user?: string;
  service?: string;
  action?: string;
  /** ISO times, inclusive. */
  from?: string;
  to?: string;
  /** Only entries with a smaller id (the next page). */
  before?: number;
  limit: number;
}

export interface TokenRecord {
  userId: number;
  expiresAt: number;
}

/** One kept model version: its description and privacy modes belong to it, not to the service. */
export interface VersionRecord {
  version: number;
  createdAt: string;
  createdBy: string;
  description: string;
  privacyModes: PrivacyMode[];
  /** Read from the model document when it was stored; null when it is not one. */
  summary: VersionSummary | null;
}

export interface ServiceRecord {
  name: string;
  /** The current version's. */
  description: string;
  /** The current version's. */
  privacyModes: PrivacyMode[];
  currentVersion: number;
  /** Every kept version, oldest first. */
  versions: VersionRecord[];
}

export interface ModelVersion {
  service: string;
  version: number;
  /** The model document, as saved by shared/classify/model.ts. */
  model: string;
  createdAt: string;
  createdBy: string;
}

export interface AuditEntry {
  at: string;
  user: string | null;
  action: string;
  service?: string | null;
  modelVersion?: number | null;
  outcome: string;
  /** Stage timings and counts; never image bytes, file names or patient data. */
  detail?: Record<string, number | string | boolean> | null;
}

export interface PublishInput {
  service: string;
  description: string;
  privacyModes: PrivacyMode[];
  model: string;
  createdBy: string;
}

export interface Store {
  countUsers(role?: Role): number;
  createUser(user: NewUser): User;
  findUser(username: string): User | undefined;
  userById(id: number): User | undefined;
  listUsers(): User[];
  /** notFound when there is no such user. */
  updateUser(id: number, changes: UserChanges): User;

  saveToken(tokenHash: string, record: TokenRecord): void;
  findToken(tokenHash: string): TokenRecord | undefined;
  deleteToken(tokenHash: string): void;
  /** Every login of one user (password change, role change, disabling). */
  deleteUserTokens(userId: number): void;
  deleteExpiredTokens(now: number): void;

  /**
   * Adds a model version (with its description and modes) and makes it current, creating the
   * service if new: one transaction. A change of the service's modes is audited (`modes`).
   */
  publish(input: PublishInput): ModelVersion;
  /**
   * Makes any kept version current (a rollback, or forward again), with its own description
   * and modes: one transaction. A change of the service's modes is audited (`modes`).
   */
  makeCurrent(service: string, version: number, by: string | null): ServiceRecord;
  listServices(): ServiceRecord[];
  findService(name: string): ServiceRecord | undefined;
  /** The given version, or the current one. */
  model(service: string, version?: number): ModelVersion | undefined;

  audit(entry: AuditEntry): void;
  auditTrail(limit: number): AuditEntry[];
  searchAudit(query: AuditQuery): (AuditEntry & { id: number })[];

  /** The user's vault key: 32 random bytes, made on first use, released only to that user inside the channel. */
  vaultKey(userId: number): Uint8Array;

  close(): void;
}

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: 'notFound' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}
