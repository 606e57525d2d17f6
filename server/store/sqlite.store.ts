import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import {
  StoreError,
  type AuditEntry,
  type AuditQuery,
  type ModelVersion,
  type PrivacyMode,
  type PublishInput,
  type Role,
  type ServiceRecord,
  type Store,
  type NewUser,
  type TokenRecord,
  type User,
  type UserChanges,
  type VersionRecord,
  trainingJobOf,
  type TrainingJobRecord,
  type TrainingJobRow,
} from './store.ts';
import { auditEntryOf, auditTrailEntryOf, type AuditTableRow } from './audit_row.ts';
import { summarizeModel } from './version_summary.ts';

/**
 * The schema's history: entry i takes a database from `PRAGMA user_version` i to i + 1, in one
 * transaction with setting it. Never edit an entry that has shipped; add one.
 */
const MIGRATIONS: (string | ((db: Database.Database) => void))[] = [
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('admin', 'clinician')),
     password_hash TEXT NOT NULL,
     created_at TEXT NOT NULL
   );
   CREATE TABLE tokens (
     token_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE services (
     name TEXT PRIMARY KEY,
     description TEXT NOT NULL,
     privacy_modes TEXT NOT NULL,
     current_version INTEGER NOT NULL
   );
   CREATE TABLE models (
     service TEXT NOT NULL REFERENCES services(name),
     version INTEGER NOT NULL,
     model TEXT NOT NULL,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL,
     PRIMARY KEY (service, version)
   );
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY,
     at TEXT NOT NULL,
     user TEXT,
     action TEXT NOT NULL,
     service TEXT,
     model_version INTEGER,
     outcome TEXT NOT NULL,
     detail TEXT
   );`,
  // 2: a description and privacy modes belong to a model version (a rollback restores them),
  // and each version keeps a summary of its model for the admin page. Existing versions take
  // their service's description and modes.
  (db) => {
    db.exec(`ALTER TABLE models ADD COLUMN description TEXT NOT NULL DEFAULT '';
      ALTER TABLE models ADD COLUMN privacy_modes TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE models ADD COLUMN summary TEXT;
      UPDATE models SET description = (SELECT s.description FROM services s WHERE s.name = models.service),
        privacy_modes = (SELECT s.privacy_modes FROM services s WHERE s.name = models.service);
      ALTER TABLE services DROP COLUMN description;
      ALTER TABLE services DROP COLUMN privacy_modes;`);
    const update = db.prepare('UPDATE models SET summary = ? WHERE service = ? AND version = ?');
    const read = db.prepare('SELECT model FROM models WHERE service = ? AND version = ?').pluck();
    // one model document in memory at a time: they can be tens of MB each
    for (const key of db.prepare('SELECT service, version FROM models').all() as { service: string; version: number }[]) {
      const summary = summarizeModel(read.get(key.service, key.version) as string);
      if (summary) update.run(JSON.stringify(summary), key.service, key.version);
    }
  },
  // 3: a disabled user keeps their record and audit trail but cannot log in (issue 10).
  `ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;`,
  // 4: a reset password must be changed at the next login; each user's vault key (issue 10 section 5, issue 11 section 3).
  `ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE users ADD COLUMN vault_key BLOB;
   CREATE INDEX audit_user ON audit (user, id);`,
  // 5: fixed-window counters (rate limits), kept in the store so that a shared engine counts across instances (issue 12).
  `CREATE TABLE counters (
     key TEXT NOT NULL,
     window_start INTEGER NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (key, window_start)
   );`,
  // 6: training jobs' status, so that a job whose instance stopped can be marked failed (issue 12).
  `CREATE TABLE training_jobs (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     instance TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'published')),
     heartbeat_at INTEGER NOT NULL,
     error TEXT
   );
   CREATE INDEX training_jobs_running ON training_jobs (status, heartbeat_at);`,
  // 7: server secrets in the database, so that every instance signs device tokens alike.
  `CREATE TABLE server_secrets (
     name TEXT PRIMARY KEY,
     value BLOB NOT NULL
   );`,
];

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = MIGRATIONS.length;

interface ServiceRow {
  name: string;
  current_version: number;
}

interface VersionRow {
  version: number;
  created_at: string;
  created_by: string;
  description: string;
  privacy_modes: string;
  summary: string | null;
}

type AuditRow = [at: string, user: string | null, action: string, service: string | null, modelVersion: number | null, outcome: string, detail: string | null];

/** A queued row and its writer, told once the row's transaction commits. */
interface PendingAudit {
  row: AuditRow;
  resolve(): void;
  reject(error: Error): void;
}

export interface AuditBatching {
  /** Rows queued at most, before they are written at once. */
  maxRows: number;
  /** Under load (busyRows rows within this many ms), rows wait up to this long to go in one transaction. */
  flushMs: number;
  /** Rows within one flushMs window that count as load; below it each row is written right after the current event. */
  busyRows: number;
}

// Answers wait for their audit row (connection.ts): under load a batch waits a few ms, not 100.
export const DEFAULT_AUDIT_BATCHING: Readonly<AuditBatching> = Object.freeze({ maxRows: 100, flushMs: 5, busyRows: 20 });

/** Stores with audit rows not yet written, flushed if the process exits without closing them. */
const open = new Set<SqliteStore>();
let exitHook = false;

const freezeService = (s: ServiceRecord): ServiceRecord => {
  Object.freeze(s.privacyModes);
  for (const v of s.versions) {
    Object.freeze(v.privacyModes);
    Object.freeze(v);
  }
  Object.freeze(s.versions);
  return Object.freeze(s);
};

/**
 * The embedded store: one SQLite file (WAL) in the data folder.
 *
 * For the classification path it keeps its prepared statements, caches service records
 * (dropped on this store's publish and makeCurrent, and whenever `PRAGMA data_version` says
 * another connection, such as `medclass publish`, committed), and writes audit rows in
 * batches: right after the current event when quiet, under load up to `maxRows` rows or
 * `flushMs` in one transaction. Pending rows are written by `auditTrail`, `close`, and at
 * process exit.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly dataVersion: Database.Statement;
  private seenDataVersion: unknown = null;
  private readonly services = new Map<string, ServiceRecord | null>();
  private allServices: ServiceRecord[] | null = null;
  private readonly batching: AuditBatching;
  private readonly pendingAudit: PendingAudit[] = [];
  private readonly insertAudit: (rows: AuditRow[]) => void;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private windowStart = 0;
  private windowRows = 0;

  constructor(file: string, batching: Partial<AuditBatching> = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      this.db.close();
      throw new Error(`${file} was written by a newer MedClass (schema ${version}; this one knows up to ${MIGRATIONS.length}); upgrade MedClass`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      const step = MIGRATIONS[v]!;
      this.db.transaction(() => {
        if (typeof step === 'string') this.db.exec(step);
        else step(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
    this.batching = { ...DEFAULT_AUDIT_BATCHING, ...batching };
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    const insert = this.db.prepare('INSERT INTO audit (at, user, action, service, model_version, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertAudit = this.db.transaction((rows: AuditRow[]) => {
      for (const row of rows) insert.run(...row);
    });
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const store of open) store.flushQuietly();
      });
    }
  }

  /** A statement prepared once per store. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async countUsers(role?: Role): Promise<number> {
    const row = role ? this.stmt('SELECT count(*) AS n FROM users WHERE role = ?').get(role) : this.stmt('SELECT count(*) AS n FROM users').get();
    return (row as { n: number }).n;
  }

  async createUser(user: NewUser): Promise<User> {
    const createdAt = new Date().toISOString();
    try {
      const { lastInsertRowid } = this.stmt('INSERT INTO users (username, role, password_hash, created_at, must_change_password) VALUES (?, ?, ?, ?, ?)').run(
        user.username,
        user.role,
        user.passwordHash,
        createdAt,
        user.mustChangePassword ? 1 : 0,
      );
      return { ...user, id: Number(lastInsertRowid), createdAt, disabled: false, mustChangePassword: user.mustChangePassword ?? false };
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError('conflict', `user ${user.username} exists`);
      throw e;
    }
  }

  private static user(row: Record<string, unknown> | undefined): User | undefined {
    if (!row) return undefined;
    return {
      id: row['id'] as number,
      username: row['username'] as string,
      role: row['role'] as User['role'],
      passwordHash: row['password_hash'] as string,
      createdAt: row['created_at'] as string,
      disabled: row['disabled'] === 1,
      mustChangePassword: row['must_change_password'] === 1,
    };
  }

  async listUsers(): Promise<User[]> {
    return (this.stmt('SELECT * FROM users ORDER BY username').all() as Record<string, unknown>[]).map((r) => SqliteStore.user(r)!);
  }

  async updateUser(id: number, changes: UserChanges): Promise<User> {
    const user = SqliteStore.user(this.stmt('SELECT * FROM users WHERE id = ?').get(id) as Record<string, unknown>);
    if (!user) throw new StoreError('notFound', 'no such user');
    const next = { ...user, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) } as User;
    this.stmt('UPDATE users SET role = ?, password_hash = ?, disabled = ?, must_change_password = ? WHERE id = ?').run(next.role, next.passwordHash, next.disabled ? 1 : 0, next.mustChangePassword ? 1 : 0, id);
    return next;
  }

  async findUser(username: string): Promise<User | undefined> {
    return SqliteStore.user(this.stmt('SELECT * FROM users WHERE username = ?').get(username) as Record<string, unknown>);
  }

  async userById(id: number): Promise<User | undefined> {
    return SqliteStore.user(this.stmt('SELECT * FROM users WHERE id = ?').get(id) as Record<string, unknown>);
  }

  async saveToken(tokenHash: string, record: TokenRecord): Promise<void> {
    this.stmt('INSERT INTO tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)').run(tokenHash, record.userId, record.expiresAt);
  }

  async findToken(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = this.stmt('SELECT user_id, expires_at FROM tokens WHERE token_hash = ?').get(tokenHash) as { user_id: number; expires_at: number } | undefined;
    return row && { userId: row.user_id, expiresAt: row.expires_at };
  }

  async deleteToken(tokenHash: string): Promise<void> {
    this.stmt('DELETE FROM tokens WHERE token_hash = ?').run(tokenHash);
  }

  async deleteUserTokens(userId: number): Promise<void> {
    this.stmt('DELETE FROM tokens WHERE user_id = ?').run(userId);
  }

  async deleteExpiredTokens(now: number): Promise<void> {
    this.stmt('DELETE FROM tokens WHERE expires_at <= ?').run(now);
  }

  private versions(service: string): VersionRecord[] {
    return (
      this.stmt('SELECT version, created_at, created_by, description, privacy_modes, summary FROM models WHERE service = ? ORDER BY version').all(service) as VersionRow[]
    ).map((r) => ({
      version: r.version,
      createdAt: r.created_at,
      createdBy: r.created_by,
      description: r.description,
      privacyModes: JSON.parse(r.privacy_modes) as PrivacyMode[],
      summary: r.summary ? (JSON.parse(r.summary) as VersionRecord['summary']) : null,
    }));
  }

  private service(row: ServiceRow | undefined): ServiceRecord | undefined {
    if (!row) return undefined;
    const versions = this.versions(row.name);
    const current = versions.find((v) => v.version === row.current_version);
    return freezeService({
      name: row.name,
      description: current?.description ?? '',
      privacyModes: current ? [...current.privacyModes] : [],
      currentVersion: row.current_version,
      versions,
    });
  }

  /** The current version's modes, as the audit writes them ('' for no service yet). */
  private currentModes(service: string): string {
    const row = this.stmt('SELECT m.privacy_modes AS modes FROM models m JOIN services s ON s.name = m.service AND s.current_version = m.version WHERE s.name = ?').get(service) as
      | { modes: string }
      | undefined;
    return row ? (JSON.parse(row.modes) as string[]).join(',') : '';
  }

  /** Audits a change of the modes clinicians may use (a publish, a rollback or roll forward). */
  private auditModes(service: string, version: number, before: string, by: string | null, via: string): void {
    const after = this.currentModes(service);
    if (after === before) return;
    // queued with the transaction's other work; written with the next batch
    this.queueAudit([new Date().toISOString(), by, 'modes', service, version, 'ok', JSON.stringify({ from: before, to: after, via })], () => undefined, () => undefined);
  }

  /** Drops the cached service records when another connection has committed since the last look. */
  private checkServices(): void {
    const v = this.dataVersion.get();
    if (v !== this.seenDataVersion) {
      this.seenDataVersion = v;
      this.forgetServices();
    }
  }

  private forgetServices(): void {
    this.services.clear();
    this.allServices = null;
  }

  async publish(input: PublishInput): Promise<ModelVersion> {
    try {
      return this.db.transaction((): ModelVersion => {
        const latest = this.stmt('SELECT max(version) AS v FROM models WHERE service = ?').get(input.service) as { v: number | null };
        const version = (latest.v ?? 0) + 1;
        const createdAt = new Date().toISOString();
        const before = this.currentModes(input.service);
        this.stmt(
          `INSERT INTO services (name, current_version) VALUES (?, ?)
           ON CONFLICT (name) DO UPDATE SET current_version = excluded.current_version`,
        ).run(input.service, version);
        const summary = summarizeModel(input.model);
        this.stmt('INSERT INTO models (service, version, model, created_at, created_by, description, privacy_modes, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
          input.service,
          version,
          input.model,
          createdAt,
          input.createdBy,
          input.description,
          JSON.stringify(input.privacyModes),
          summary ? JSON.stringify(summary) : null,
        );
        this.auditModes(input.service, version, before, input.createdBy, 'publish');
        return { service: input.service, version, model: input.model, createdAt, createdBy: input.createdBy };
      })();
    } finally {
      this.forgetServices();
    }
  }

  async makeCurrent(service: string, version: number, by: string | null): Promise<ServiceRecord> {
    try {
      return this.db.transaction((): ServiceRecord => {
        const exists = this.stmt('SELECT 1 FROM models WHERE service = ? AND version = ?').get(service, version);
        if (!exists) throw new StoreError('notFound', `service ${service} has no version ${version}`);
        const before = this.currentModes(service);
        this.stmt('UPDATE services SET current_version = ? WHERE name = ?').run(version, service);
        this.auditModes(service, version, before, by, 'makeCurrent');
        this.forgetServices();
        return this.service(this.stmt('SELECT * FROM services WHERE name = ?').get(service) as ServiceRow | undefined)!;
      })();
    } finally {
      this.forgetServices();
    }
  }

  async listServices(): Promise<readonly ServiceRecord[]> {
    this.checkServices();
    this.allServices ??= Object.freeze((this.stmt('SELECT * FROM services ORDER BY name').all() as ServiceRow[]).map((r) => this.service(r)!)) as ServiceRecord[];
    return this.allServices;
  }

  async findService(name: string): Promise<ServiceRecord | undefined> {
    this.checkServices();
    let s = this.services.get(name);
    if (s === undefined) {
      s = this.service(this.stmt('SELECT * FROM services WHERE name = ?').get(name) as ServiceRow | undefined) ?? null;
      this.services.set(name, s);
    }
    return s ?? undefined;
  }

  async model(service: string, version?: number): Promise<ModelVersion | undefined> {
    const row = (
      version === undefined
        ? this.stmt('SELECT m.* FROM models m JOIN services s ON s.name = m.service AND s.current_version = m.version WHERE s.name = ?').get(service)
        : this.stmt('SELECT * FROM models WHERE service = ? AND version = ?').get(service, version)
    ) as { service: string; version: number; model: string; created_at: string; created_by: string } | undefined;
    return row && { service: row.service, version: row.version, model: row.model, createdAt: row.created_at, createdBy: row.created_by };
  }

  audit(entry: AuditEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queueAudit(
        [entry.at, entry.user, entry.action, entry.service ?? null, entry.modelVersion ?? null, entry.outcome, entry.detail ? JSON.stringify(entry.detail) : null],
        resolve,
        reject,
      );
    });
  }

  private queueAudit(row: AuditRow, resolve: () => void, reject: (error: Error) => void): void {
    if (!this.db.open) return reject(new Error('the store is closed'));
    this.pendingAudit.push({ row, resolve, reject });
    const { maxRows, flushMs, busyRows } = this.batching;
    const now = Date.now();
    if (now - this.windowStart >= flushMs) {
      this.windowStart = now;
      this.windowRows = 0;
    }
    this.windowRows++;
    if (this.pendingAudit.length >= maxRows) {
      this.flushAudit();
      return;
    }
    if (this.flushTimer) return;
    if (this.windowRows >= busyRows) {
      // under load: one transaction for all rows of up to flushMs
      if (this.flushImmediate) clearImmediate(this.flushImmediate);
      this.flushImmediate = null;
      this.flushTimer = setTimeout(() => this.flushQuietly(), flushMs);
      this.flushTimer.unref();
    } else if (!this.flushImmediate) {
      this.flushImmediate = setImmediate(() => this.flushQuietly());
      this.flushImmediate.unref();
    }
  }

  /** Writes the queued audit rows in one transaction; on failure they stay queued and the error is thrown. */
  flushAudit(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushTimer = null;
    this.flushImmediate = null;
    if (!this.pendingAudit.length || !this.db.open) return;
    const rows = this.pendingAudit.splice(0);
    try {
      this.insertAudit(rows.map((p) => p.row));
    } catch (e) {
      this.pendingAudit.unshift(...rows);
      throw e;
    }
    for (const p of rows) p.resolve();
  }

  /** A flush from a timer: a failure (the database busy) leaves the rows queued for the next try. */
  private flushQuietly(): void {
    try {
      this.flushAudit();
    } catch {
      if (!this.flushTimer && this.pendingAudit.length && this.db.open) {
        this.flushTimer = setTimeout(() => this.flushQuietly(), this.batching.flushMs);
        this.flushTimer.unref();
      }
    }
  }

  async auditTrail(limit: number): Promise<AuditEntry[]> {
    this.flushAudit();
    return (this.stmt('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as AuditTableRow[]).map(auditTrailEntryOf);
  }

  async searchAudit(q: AuditQuery): Promise<(AuditEntry & { id: number })[]> {
    this.flushAudit();
    const where: string[] = [];
    const args: (string | number)[] = [];
    const add = (sql: string, value: string | number | undefined) => {
      if (value === undefined || value === '') return;
      where.push(sql);
      args.push(value);
    };
    add('user = ?', q.user);
    add('service = ?', q.service);
    add('action = ?', q.action);
    add('at >= ?', q.from);
    add('at <= ?', q.to);
    add('id < ?', q.before);
    const rows = this.db
      .prepare(`SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit) as AuditTableRow[];
    return rows.map(auditEntryOf);
  }

  async putTrainingJob(job: TrainingJobRecord): Promise<void> {
    this.stmt(
      `INSERT INTO training_jobs (id, owner, instance, status, heartbeat_at, error) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, instance = excluded.instance, status = excluded.status, heartbeat_at = excluded.heartbeat_at, error = excluded.error`,
    ).run(job.id, job.owner, job.instance, job.status, job.heartbeatAt, job.error);
  }

  async heartbeatTrainingJobs(instance: string, at: number): Promise<void> {
    this.stmt("UPDATE training_jobs SET heartbeat_at = ? WHERE instance = ? AND status = 'running'").run(at, instance);
  }

  async failStaleTrainingJobs(before: number, error: string): Promise<string[]> {
    const rows = this.stmt("UPDATE training_jobs SET status = 'failed', error = ? WHERE status = 'running' AND heartbeat_at < ? RETURNING id").all(error, before) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async pruneTrainingJobs(before: number): Promise<number> {
    return this.stmt("DELETE FROM training_jobs WHERE status <> 'running' AND heartbeat_at < ?").run(before).changes;
  }

  async listTrainingJobs(owner?: string): Promise<TrainingJobRecord[]> {
    const rows = (
      owner === undefined
        ? this.stmt('SELECT * FROM training_jobs ORDER BY heartbeat_at DESC, id').all()
        : this.stmt('SELECT * FROM training_jobs WHERE owner = ? ORDER BY heartbeat_at DESC, id').all(owner)
    ) as TrainingJobRow[];
    return rows.map(trainingJobOf);
  }

  async addToCounter(key: string, windowStart: number, n: number): Promise<number> {
    return this.db.transaction(() => {
      this.stmt('DELETE FROM counters WHERE key = ? AND window_start < ?').run(key, windowStart);
      return (
        this.stmt('INSERT INTO counters (key, window_start, count) VALUES (?, ?, ?) ON CONFLICT (key, window_start) DO UPDATE SET count = count + excluded.count RETURNING count').get(
          key,
          windowStart,
          n,
        ) as { count: number }
      ).count;
    })();
  }

  async serverSecret(name: string, initial: Uint8Array): Promise<Uint8Array> {
    this.stmt('INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, Buffer.from(initial));
    return new Uint8Array((this.stmt('SELECT value FROM server_secrets WHERE name = ?').get(name) as { value: Buffer }).value);
  }

  async vaultKey(userId: number): Promise<Uint8Array> {
    const row = this.stmt('SELECT vault_key FROM users WHERE id = ?').get(userId) as { vault_key: Buffer | null } | undefined;
    if (!row) throw new StoreError('notFound', 'no such user');
    if (row.vault_key) return new Uint8Array(row.vault_key);
    // made once: a concurrent first use keeps whichever was written first
    this.stmt('UPDATE users SET vault_key = ? WHERE id = ? AND vault_key IS NULL').run(randomBytes(32), userId);
    return new Uint8Array((this.stmt('SELECT vault_key FROM users WHERE id = ?').get(userId) as { vault_key: Buffer }).vault_key);
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    try {
      this.flushAudit();
    } finally {
      open.delete(this);
      // rows that could not be written now never will be: their writers hear so
      const lost = this.pendingAudit.splice(0);
      for (const p of lost) p.reject(new Error('the audit row could not be written before the store closed'));
      this.statements.clear();
      this.db.close();
    }
  }
}
