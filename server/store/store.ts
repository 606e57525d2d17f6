/**
 * Everything the server keeps: users, login tokens, hosted services with their model
 * versions, the audit trail and rate-limit counters. Never images. SQLite (sqlite.store.ts) is
 * the embedded default; Postgres (postgres.store.ts) is what several instances share. Both pass
 * one contract suite (store.contract.ts); open_store.ts picks one.
 */
import type { VersionSummary } from './version_summary.ts';

export type { VersionSummary } from './version_summary.ts';
export type Role = 'admin' | 'clinician';
/** Kept as JSON text per version: `device` (the model may go to the device) needed no migration. */
export { PRIVACY_MODES, type PrivacyMode } from '../../shared/protocol/messages.ts';
import type { PrivacyMode } from '../../shared/protocol/messages.ts';

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

export type TrainingJobStatus = 'running' | 'done' | 'failed' | 'published';

/** A training job as the database holds it (the model itself stays in the memory of the instance that trained it). */
export interface TrainingJobRecord {
  id: string;
  owner: string;
  /** The instance that runs it and holds its model. */
  instance: string;
  status: TrainingJobStatus;
  heartbeatAt: number;
  error: string | null;
}

/** A `training_jobs` row as either engine returns it (Postgres gives BIGINT as a string). */
export interface TrainingJobRow {
  id: string;
  owner: string;
  instance: string;
  status: TrainingJobStatus;
  heartbeat_at: number | string;
  error: string | null;
}

export function trainingJobOf(r: TrainingJobRow): TrainingJobRecord {
  return { id: r.id, owner: r.owner, instance: r.instance, status: r.status, heartbeatAt: Number(r.heartbeat_at), error: r.error };
}

/**
 * Every method is asynchronous: an engine may be across the network (Postgres). Callers await
 * each result; nothing is assumed about when a write is visible to another instance except
 * that it is once its promise has resolved.
 */
export interface Store {
  countUsers(role?: Role): Promise<number>;
  createUser(user: NewUser): Promise<User>;
  findUser(username: string): Promise<User | undefined>;
  userById(id: number): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  /** notFound when there is no such user. */
  updateUser(id: number, changes: UserChanges): Promise<User>;

  saveToken(tokenHash: string, record: TokenRecord): Promise<void>;
  findToken(tokenHash: string): Promise<TokenRecord | undefined>;
  deleteToken(tokenHash: string): Promise<void>;
  /** Every login of one user (password change, role change, disabling). */
  deleteUserTokens(userId: number): Promise<void>;
  deleteExpiredTokens(now: number): Promise<void>;

  /**
   * Adds a model version (with its description and modes) and makes it current, creating the
   * service if new: one transaction. A change of the service's modes is audited (`modes`).
   */
  publish(input: PublishInput): Promise<ModelVersion>;
  /**
   * Makes any kept version current (a rollback, or forward again), with its own description
   * and modes: one transaction. A change of the service's modes is audited (`modes`).
   */
  makeCurrent(service: string, version: number, by: string | null): Promise<ServiceRecord>;
  listServices(): Promise<readonly ServiceRecord[]>;
  findService(name: string): Promise<ServiceRecord | undefined>;
  /** The given version, or the current one. */
  model(service: string, version?: number): Promise<ModelVersion | undefined>;

  /** Resolves once the row is committed (an engine may batch rows into one transaction). */
  audit(entry: AuditEntry): Promise<void>;
  auditTrail(limit: number): Promise<AuditEntry[]>;
  searchAudit(query: AuditQuery): Promise<(AuditEntry & { id: number })[]>;

  /**
   * Adds `n` to the counter `key` of the fixed window that starts at `windowStart` (ms) and
   * returns its total, `n` included: one atomic step, so instances sharing the database count
   * together (per-user rate limits). Windows that ended before `windowStart` may be dropped.
   */
  addToCounter(key: string, windowStart: number, n: number): Promise<number>;

  /** Creates or replaces a training job's row (its status as every instance sees it). */
  putTrainingJob(job: TrainingJobRecord): Promise<void>;
  /** Sets `heartbeatAt` of every running job of this instance: it still works on them. */
  heartbeatTrainingJobs(instance: string, at: number): Promise<void>;
  /** Marks failed, with `error`, every running job whose heartbeat is older than `before`; returns their ids. */
  failStaleTrainingJobs(before: number, error: string): Promise<string[]>;
  /**
   * Deletes the jobs that are no longer running and were last written before `before`; returns
   * how many. Their models went with the uploads that held them, so the rows only record history.
   */
  pruneTrainingJobs(before: number): Promise<number>;
  /** Training jobs, newest heartbeat first; one owner's only when given. */
  listTrainingJobs(owner?: string): Promise<TrainingJobRecord[]>;

  /**
   * The server secret `name` that every instance on this database shares: the first call
   * anywhere stores `initial`, and every call returns what was stored first.
   */
  serverSecret(name: string, initial: Uint8Array): Promise<Uint8Array>;

  /** The user's vault key: 32 random bytes, made on first use, released only to that user inside the channel. */
  vaultKey(userId: number): Promise<Uint8Array>;

  close(): Promise<void>;
}

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: 'notFound' | 'conflict' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}
