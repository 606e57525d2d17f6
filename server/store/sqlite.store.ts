import Database from 'better-sqlite3';
import {
  StoreError,
  type AuditEntry,
  type ModelVersion,
  type PrivacyMode,
  type PublishInput,
  type Role,
  type ServiceRecord,
  type Store,
  type TokenRecord,
  type User,
} from './store.ts';

const MIGRATIONS = [
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
];

interface ServiceRow {
  name: string;
  description: string;
  privacy_modes: string;
  current_version: number;
}

/** The embedded store: one SQLite file (WAL) in the data folder. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  countUsers(role?: Role): number {
    const row = role ? this.db.prepare('SELECT count(*) AS n FROM users WHERE role = ?').get(role) : this.db.prepare('SELECT count(*) AS n FROM users').get();
    return (row as { n: number }).n;
  }

  createUser(user: Omit<User, 'id' | 'createdAt'>): User {
    const createdAt = new Date().toISOString();
    try {
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(user.username, user.role, user.passwordHash, createdAt);
      return { ...user, id: Number(lastInsertRowid), createdAt };
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
    };
  }

  findUser(username: string): User | undefined {
    return SqliteStore.user(this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as Record<string, unknown>);
  }

  userById(id: number): User | undefined {
    return SqliteStore.user(this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Record<string, unknown>);
  }

  saveToken(tokenHash: string, record: TokenRecord): void {
    this.db.prepare('INSERT INTO tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?)').run(tokenHash, record.userId, record.expiresAt);
  }

  findToken(tokenHash: string): TokenRecord | undefined {
    const row = this.db.prepare('SELECT user_id, expires_at FROM tokens WHERE token_hash = ?').get(tokenHash) as
      | { user_id: number; expires_at: number }
      | undefined;
    return row && { userId: row.user_id, expiresAt: row.expires_at };
  }

  deleteToken(tokenHash: string): void {
    this.db.prepare('DELETE FROM tokens WHERE token_hash = ?').run(tokenHash);
  }

  deleteExpiredTokens(now: number): void {
    this.db.prepare('DELETE FROM tokens WHERE expires_at <= ?').run(now);
  }

  private versions(service: string): ServiceRecord['versions'] {
    return (
      this.db.prepare('SELECT version, created_at, created_by FROM models WHERE service = ? ORDER BY version').all(service) as {
        version: number;
        created_at: string;
        created_by: string;
      }[]
    ).map((r) => ({ version: r.version, createdAt: r.created_at, createdBy: r.created_by }));
  }

  private service(row: ServiceRow | undefined): ServiceRecord | undefined {
    if (!row) return undefined;
    return {
      name: row.name,
      description: row.description,
      privacyModes: JSON.parse(row.privacy_modes) as PrivacyMode[],
      currentVersion: row.current_version,
      versions: this.versions(row.name),
    };
  }

  publish(input: PublishInput): ModelVersion {
    return this.db.transaction((): ModelVersion => {
      const latest = this.db.prepare('SELECT max(version) AS v FROM models WHERE service = ?').get(input.service) as { v: number | null };
      const version = (latest.v ?? 0) + 1;
      const createdAt = new Date().toISOString();
      this.db
        .prepare(
          `INSERT INTO services (name, description, privacy_modes, current_version) VALUES (?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET description = excluded.description, privacy_modes = excluded.privacy_modes,
             current_version = excluded.current_version`,
        )
        .run(input.service, input.description, JSON.stringify(input.privacyModes), version);
      this.db
        .prepare('INSERT INTO models (service, version, model, created_at, created_by) VALUES (?, ?, ?, ?, ?)')
        .run(input.service, version, input.model, createdAt, input.createdBy);
      return { service: input.service, version, model: input.model, createdAt, createdBy: input.createdBy };
    })();
  }

  rollback(service: string, version: number): ServiceRecord {
    return this.db.transaction((): ServiceRecord => {
      const exists = this.db.prepare('SELECT 1 FROM models WHERE service = ? AND version = ?').get(service, version);
      if (!exists) throw new StoreError('notFound', `service ${service} has no version ${version}`);
      this.db.prepare('UPDATE services SET current_version = ? WHERE name = ?').run(version, service);
      return this.findService(service)!;
    })();
  }

  listServices(): ServiceRecord[] {
    return (this.db.prepare('SELECT * FROM services ORDER BY name').all() as ServiceRow[]).map((r) => this.service(r)!);
  }

  findService(name: string): ServiceRecord | undefined {
    return this.service(this.db.prepare('SELECT * FROM services WHERE name = ?').get(name) as ServiceRow | undefined);
  }

  model(service: string, version?: number): ModelVersion | undefined {
    const row = (
      version === undefined
        ? this.db
            .prepare('SELECT m.* FROM models m JOIN services s ON s.name = m.service AND s.current_version = m.version WHERE s.name = ?')
            .get(service)
        : this.db.prepare('SELECT * FROM models WHERE service = ? AND version = ?').get(service, version)
    ) as { service: string; version: number; model: string; created_at: string; created_by: string } | undefined;
    return row && { service: row.service, version: row.version, model: row.model, createdAt: row.created_at, createdBy: row.created_by };
  }

  audit(entry: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit (at, user, action, service, model_version, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(entry.at, entry.user, entry.action, entry.service ?? null, entry.modelVersion ?? null, entry.outcome, entry.detail ? JSON.stringify(entry.detail) : null);
  }

  auditTrail(limit: number): AuditEntry[] {
    return (
      this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as {
        at: string;
        user: string | null;
        action: string;
        service: string | null;
        model_version: number | null;
        outcome: string;
        detail: string | null;
      }[]
    ).map((r) => ({
      at: r.at,
      user: r.user,
      action: r.action,
      service: r.service,
      modelVersion: r.model_version,
      outcome: r.outcome,
      detail: r.detail ? (JSON.parse(r.detail) as AuditEntry['detail']) : null,
    }));
  }

  close(): void {
    this.db.close();
  }
}
