import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  StoreError,
  type AuditEntry,
  type AuditQuery,
  type ModelVersion,
  type NewUser,
  type PrivacyMode,
  type PublishInput,
  type Role,
  type ServiceRecord,
  type Store,
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
 * The schema's history for Postgres: entry i takes a database from version i to i + 1, recorded
 * in `schema_migrations`. Never edit an entry that has shipped; add one. The first is the
 * schema SQLite reached in its four steps (sqlite.store.ts).
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     id SERIAL PRIMARY KEY,
     username TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('admin', 'clinician')),
     password_hash TEXT NOT NULL,
     created_at TEXT NOT NULL,
     disabled BOOLEAN NOT NULL DEFAULT false,
     must_change_password BOOLEAN NOT NULL DEFAULT false,
     vault_key BYTEA
   );
   CREATE TABLE tokens (
     token_hash TEXT PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX tokens_user ON tokens (user_id);
   CREATE TABLE services (
     name TEXT PRIMARY KEY,
     current_version INTEGER NOT NULL
   );
   CREATE TABLE models (
     service TEXT NOT NULL REFERENCES services(name),
     version INTEGER NOT NULL,
     model TEXT NOT NULL,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL,
     description TEXT NOT NULL DEFAULT '',
     privacy_modes TEXT NOT NULL DEFAULT '[]',
     summary TEXT,
     PRIMARY KEY (service, version)
   );
   CREATE TABLE audit (
     id BIGSERIAL PRIMARY KEY,
     at TEXT NOT NULL,
     "user" TEXT,
     action TEXT NOT NULL,
     service TEXT,
     model_version INTEGER,
     outcome TEXT NOT NULL,
     detail TEXT
   );
   CREATE INDEX audit_user ON audit ("user", id);`,
  // 2: fixed-window counters (per-user rate limits across instances).
  `CREATE TABLE counters (
     key TEXT NOT NULL,
     window_start BIGINT NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (key, window_start)
   );`,
  // 3: training jobs' status, so that a job whose instance stopped can be marked failed.
  `CREATE TABLE training_jobs (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     instance TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'published')),
     heartbeat_at BIGINT NOT NULL,
     error TEXT
   );
   CREATE INDEX training_jobs_running ON training_jobs (status, heartbeat_at);`,
  // 4: server secrets in the database, so that every instance signs device tokens alike.
  `CREATE TABLE server_secrets (
     name TEXT PRIMARY KEY,
     value BYTEA NOT NULL
   );`,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Where every instance is told of a change (server/cluster/pg_events.ts listens). */
export const EVENTS_CHANNEL = 'medclass_events';

/** The SQL that announces an access change of the user whose id `expr` gives (see ClusterEvent). */
const ACCESS_NOTIFY = (expr: string) => `pg_notify('${EVENTS_CHANNEL}', json_build_object('kind', 'access', 'userId', ${expr})::text)`;

/** One advisory lock key for migrations: instances starting together take turns. */
const MIGRATION_LOCK = 0x6d65_6463; // "medc"

/** Errors that say the database is away (restarting, unreachable), not that the request was wrong. */
function unavailable(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  const message = (e as Error).message ?? '';
  return (
    /^(08|57P0[123])/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code) ||
    /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended/i.test(message)
  );
}

/** A database that is away becomes one plain refusal; anything else goes on as it was. */
function translate(e: unknown): never {
  if (e instanceof StoreError) throw e;
  if (unavailable(e)) throw new StoreError('unavailable', 'the database is temporarily unavailable; try again in a moment');
  throw e;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  created_at: string;
  disabled: boolean;
  must_change_password: boolean;
}

const userOf = (r: UserRow | undefined): User | undefined =>
  r && {
    id: r.id,
    username: r.username,
    role: r.role,
    passwordHash: r.password_hash,
    createdAt: r.created_at,
    disabled: r.disabled,
    mustChangePassword: r.must_change_password,
  };

type Queryable = Pick<pg.PoolClient, 'query'>;

interface PendingAudit {
  values: unknown[];
  resolve(): void;
  reject(error: Error): void;
}

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** Where pool errors of idle connections are reported (a restart of Postgres); default: ignored, the next query reconnects. */
  onError?: (error: Error) => void;
}

/**
 * The shared store: every instance of a scaled-out server on one Postgres database. It keeps
 * no cache, so what one instance commits the next query of any other sees; instances hear
 * of changes at once through NOTIFY on `medclass_events`, sent inside the transaction that
 * makes them (delivered only if it commits).
 *
 * Audit rows go in group commits: rows that arrive while one INSERT is in flight go together in
 * the next, and each row's promise resolves when its INSERT has committed.
 */
export class PostgresStore implements Store {
  private readonly pending: PendingAudit[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(readonly pool: pg.Pool) {}

  /** Connects, and brings the schema up to date (under an advisory lock: several instances may start at once). */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 10_000 });
    // an idle connection dropped by a restart of Postgres must not end the process
    pool.on('error', (e) => options.onError?.(e));
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
    return new PostgresStore(pool);
  }

  private async q<R extends pg.QueryResultRow>(sql: string, values: unknown[] = [], on: Queryable = this.pool): Promise<R[]> {
    try {
      return (await on.query<R>(sql, values)).rows;
    } catch (e) {
      translate(e);
    }
  }

  /** Runs `work` in one transaction on one connection. */
  private async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      translate(e);
    }
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      translate(e);
    } finally {
      client.release();
    }
  }

  async countUsers(role?: Role): Promise<number> {
    const rows = role ? await this.q<{ n: string }>('SELECT count(*) AS n FROM users WHERE role = $1', [role]) : await this.q<{ n: string }>('SELECT count(*) AS n FROM users');
    return Number(rows[0]!.n);
  }

  async createUser(user: NewUser): Promise<User> {
    const createdAt = new Date().toISOString();
    try {
      const [row] = await this.pool.query<{ id: number }>('INSERT INTO users (username, role, password_hash, created_at, must_change_password) VALUES ($1, $2, $3, $4, $5) RETURNING id', [
        user.username,
        user.role,
        user.passwordHash,
        createdAt,
        user.mustChangePassword ?? false,
      ]).then((r) => r.rows);
      return { ...user, id: row!.id, createdAt, disabled: false, mustChangePassword: user.mustChangePassword ?? false };
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new StoreError('conflict', `user ${user.username} exists`);
      translate(e);
    }
  }

  async findUser(username: string): Promise<User | undefined> {
    return userOf((await this.q<UserRow>('SELECT * FROM users WHERE username = $1', [username]))[0]);
  }

  async userById(id: number): Promise<User | undefined> {
    return userOf((await this.q<UserRow>('SELECT * FROM users WHERE id = $1', [id]))[0]);
  }

  async listUsers(): Promise<User[]> {
    return (await this.q<UserRow>('SELECT * FROM users ORDER BY username')).map((r) => userOf(r)!);
  }

  async updateUser(id: number, changes: UserChanges): Promise<User> {
    // the change and its announcement in one statement: every instance re-checks the user's sessions once it commits
    const [row] = await this.q<UserRow>(
      `WITH u AS (UPDATE users SET role = coalesce($2, role), password_hash = coalesce($3, password_hash), disabled = coalesce($4, disabled),
         must_change_password = coalesce($5, must_change_password) WHERE id = $1 RETURNING *)
       SELECT u.*, ${ACCESS_NOTIFY('u.id')} FROM u`,
      [id, changes.role ?? null, changes.passwordHash ?? null, changes.disabled ?? null, changes.mustChangePassword ?? null],
    );
    if (!row) throw new StoreError('notFound', 'no such user');
    return userOf(row)!;
  }

  async saveToken(tokenHash: string, record: TokenRecord): Promise<void> {
    await this.q('INSERT INTO tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [tokenHash, record.userId, record.expiresAt]);
  }

  async findToken(tokenHash: string): Promise<TokenRecord | undefined> {
    const [row] = await this.q<{ user_id: number; expires_at: string }>('SELECT user_id, expires_at FROM tokens WHERE token_hash = $1', [tokenHash]);
    return row && { userId: row.user_id, expiresAt: Number(row.expires_at) };
  }

  async deleteToken(tokenHash: string): Promise<void> {
    await this.q(`WITH d AS (DELETE FROM tokens WHERE token_hash = $1 RETURNING user_id) SELECT ${ACCESS_NOTIFY('d.user_id')} FROM d`, [tokenHash]);
  }

  async deleteUserTokens(userId: number): Promise<void> {
    await this.q(`WITH d AS (DELETE FROM tokens WHERE user_id = $1) SELECT ${ACCESS_NOTIFY('$1::int')}`, [userId]);
  }

  async deleteExpiredTokens(now: number): Promise<void> {
    await this.q('DELETE FROM tokens WHERE expires_at <= $1', [now]);
  }

  /** The current version's modes, as the audit writes them ('' for no service yet). */
  private async currentModes(c: Queryable, service: string): Promise<string> {
    const [row] = await this.q<{ modes: string }>(
      'SELECT m.privacy_modes AS modes FROM models m JOIN services s ON s.name = m.service AND s.current_version = m.version WHERE s.name = $1',
      [service],
      c,
    );
    return row ? (JSON.parse(row.modes) as string[]).join(',') : '';
  }

  /** Audits a change of the modes clinicians may use, in the transaction that made it. */
  private async auditModes(c: Queryable, service: string, version: number, before: string, by: string | null, via: string): Promise<void> {
    const after = await this.currentModes(c, service);
    if (after === before) return;
    await this.q('INSERT INTO audit (at, "user", action, service, model_version, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      new Date().toISOString(),
      by,
      'modes',
      service,
      version,
      'ok',
      JSON.stringify({ from: before, to: after, via }),
    ], c);
  }

  async publish(input: PublishInput): Promise<ModelVersion> {
    const summary = summarizeModel(input.model);
    return this.tx(async (c) => {
      // one publish of a service at a time, across instances: each gets its own version number
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`medclass.publish:${input.service}`]);
      const [latest] = await this.q<{ v: number | null }>('SELECT max(version) AS v FROM models WHERE service = $1', [input.service], c);
      const version = (latest?.v ?? 0) + 1;
      const createdAt = new Date().toISOString();
      const before = await this.currentModes(c, input.service);
      await c.query('INSERT INTO services (name, current_version) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET current_version = excluded.current_version', [input.service, version]);
      await c.query(
        'INSERT INTO models (service, version, model, created_at, created_by, description, privacy_modes, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [input.service, version, input.model, createdAt, input.createdBy, input.description, JSON.stringify(input.privacyModes), summary ? JSON.stringify(summary) : null],
      );
      await this.auditModes(c, input.service, version, before, input.createdBy, 'publish');
      await notify(c, { kind: 'services' });
      return { service: input.service, version, model: input.model, createdAt, createdBy: input.createdBy };
    });
  }

  async makeCurrent(service: string, version: number, by: string | null): Promise<ServiceRecord> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`medclass.publish:${service}`]);
      const exists = await this.q('SELECT 1 FROM models WHERE service = $1 AND version = $2', [service, version], c);
      if (!exists.length) throw new StoreError('notFound', `service ${service} has no version ${version}`);
      const before = await this.currentModes(c, service);
      await c.query('UPDATE services SET current_version = $2 WHERE name = $1', [service, version]);
      await this.auditModes(c, service, version, before, by, 'makeCurrent');
      await notify(c, { kind: 'services' });
      return (await this.services(c, service))[0]!;
    });
  }

  /** Service records with their versions (never the model documents), in one query. */
  private async services(c: Queryable, name?: string): Promise<ServiceRecord[]> {
    const rows = await this.q<{ name: string; current_version: number; version: number; created_at: string; created_by: string; description: string; privacy_modes: string; summary: string | null }>(
      `SELECT s.name, s.current_version, m.version, m.created_at, m.created_by, m.description, m.privacy_modes, m.summary
         FROM services s JOIN models m ON m.service = s.name ${name === undefined ? '' : 'WHERE s.name = $1'} ORDER BY s.name, m.version`,
      name === undefined ? [] : [name],
      c,
    );
    const out: ServiceRecord[] = [];
    for (const r of rows) {
      let s = out.at(-1);
      if (!s || s.name !== r.name) {
        s = { name: r.name, description: '', privacyModes: [], currentVersion: r.current_version, versions: [] };
        out.push(s);
      }
      const v: VersionRecord = {
        version: r.version,
        createdAt: r.created_at,
        createdBy: r.created_by,
        description: r.description,
        privacyModes: JSON.parse(r.privacy_modes) as PrivacyMode[],
        summary: r.summary ? (JSON.parse(r.summary) as VersionRecord['summary']) : null,
      };
      s.versions.push(v);
      if (v.version === s.currentVersion) {
        s.description = v.description;
        s.privacyModes = [...v.privacyModes];
      }
    }
    return out;
  }

  async listServices(): Promise<readonly ServiceRecord[]> {
    return this.services(this.pool);
  }

  async findService(name: string): Promise<ServiceRecord | undefined> {
    return (await this.services(this.pool, name))[0];
  }

  async model(service: string, version?: number): Promise<ModelVersion | undefined> {
    const [row] =
      version === undefined
        ? await this.q<{ service: string; version: number; model: string; created_at: string; created_by: string }>(
            'SELECT m.service, m.version, m.model, m.created_at, m.created_by FROM models m JOIN services s ON s.name = m.service AND s.current_version = m.version WHERE s.name = $1',
            [service],
          )
        : await this.q<{ service: string; version: number; model: string; created_at: string; created_by: string }>(
            'SELECT service, version, model, created_at, created_by FROM models WHERE service = $1 AND version = $2',
            [service, version],
          );
    return row && { service: row.service, version: row.version, model: row.model, createdAt: row.created_at, createdBy: row.created_by };
  }

  audit(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        values: [entry.at, entry.user, entry.action, entry.service ?? null, entry.modelVersion ?? null, entry.outcome, entry.detail ? JSON.stringify(entry.detail) : null],
        resolve,
        reject,
      });
      this.flushing ??= this.flush();
    });
  }

  /** Writes queued rows in one INSERT per round until none are left; a failed round fails its own rows only. */
  private async flush(): Promise<void> {
    try {
      while (this.pending.length) {
        const rows = this.pending.splice(0, 500);
        const values: unknown[] = [];
        const tuples = rows.map((r) => {
          const at = values.length;
          values.push(...r.values);
          return `(${r.values.map((_, i) => `$${at + i + 1}`).join(', ')})`;
        });
        try {
          await this.pool.query(`INSERT INTO audit (at, "user", action, service, model_version, outcome, detail) VALUES ${tuples.join(', ')}`, values);
          for (const r of rows) r.resolve();
        } catch (e) {
          const error = unavailable(e) ? new StoreError('unavailable', 'the database is temporarily unavailable; try again in a moment') : (e as Error);
          for (const r of rows) r.reject(error);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  async auditTrail(limit: number): Promise<AuditEntry[]> {
    await this.flushing;
    return (await this.q<AuditTableRow>('SELECT * FROM audit ORDER BY id DESC LIMIT $1', [limit])).map(auditTrailEntryOf);
  }

  async searchAudit(query: AuditQuery): Promise<(AuditEntry & { id: number })[]> {
    await this.flushing;
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (column: string, op: string, value: string | number | undefined) => {
      if (value === undefined || value === '') return;
      values.push(value);
      where.push(`${column} ${op} $${values.length}`);
    };
    add('"user"', '=', query.user);
    add('service', '=', query.service);
    add('action', '=', query.action);
    add('at', '>=', query.from);
    add('at', '<=', query.to);
    add('id', '<', query.before);
    values.push(query.limit);
    return (await this.q<AuditTableRow>(`SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`, values)).map(auditEntryOf);
  }

  async putTrainingJob(job: TrainingJobRecord): Promise<void> {
    await this.q(
      `INSERT INTO training_jobs (id, owner, instance, status, heartbeat_at, error) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, instance = excluded.instance, status = excluded.status, heartbeat_at = excluded.heartbeat_at, error = excluded.error`,
      [job.id, job.owner, job.instance, job.status, job.heartbeatAt, job.error],
    );
  }

  async heartbeatTrainingJobs(instance: string, at: number): Promise<void> {
    await this.q("UPDATE training_jobs SET heartbeat_at = $1 WHERE instance = $2 AND status = 'running'", [at, instance]);
  }

  async failStaleTrainingJobs(before: number, error: string): Promise<string[]> {
    // one statement: two instances sweeping at once each mark a job at most once
    const rows = await this.q<{ id: string }>("UPDATE training_jobs SET status = 'failed', error = $1 WHERE status = 'running' AND heartbeat_at < $2 RETURNING id", [error, before]);
    return rows.map((r) => r.id);
  }

  async pruneTrainingJobs(before: number): Promise<number> {
    return (await this.q<{ id: string }>("DELETE FROM training_jobs WHERE status <> 'running' AND heartbeat_at < $1 RETURNING id", [before])).length;
  }

  async listTrainingJobs(owner?: string): Promise<TrainingJobRecord[]> {
    const rows =
      owner === undefined
        ? await this.q<TrainingJobRow>('SELECT * FROM training_jobs ORDER BY heartbeat_at DESC, id')
        : await this.q<TrainingJobRow>('SELECT * FROM training_jobs WHERE owner = $1 ORDER BY heartbeat_at DESC, id', [owner]);
    return rows.map(trainingJobOf);
  }

  async addToCounter(key: string, windowStart: number, n: number): Promise<number> {
    // one statement: concurrent instances add to the same row, the upsert serialises them
    const [row] = await this.q<{ count: number }>(
      `WITH gone AS (DELETE FROM counters WHERE key = $1 AND window_start < $2)
       INSERT INTO counters (key, window_start, count) VALUES ($1, $2, $3)
       ON CONFLICT (key, window_start) DO UPDATE SET count = counters.count + excluded.count RETURNING count`,
      [key, windowStart, n],
    );
    return row!.count;
  }

  async serverSecret(name: string, initial: Uint8Array): Promise<Uint8Array> {
    // the INSERT waits for a concurrent one to commit, so the SELECT after it sees the first value
    await this.q('INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, Buffer.from(initial)]);
    const [row] = await this.q<{ value: Buffer }>('SELECT value FROM server_secrets WHERE name = $1', [name]);
    return new Uint8Array(row!.value);
  }

  async vaultKey(userId: number): Promise<Uint8Array> {
    // made once: a concurrent first use (another instance too) keeps whichever was written first
    const [row] = await this.q<{ vault_key: Buffer | null }>(
      `WITH made AS (UPDATE users SET vault_key = $2 WHERE id = $1 AND vault_key IS NULL RETURNING vault_key)
       SELECT coalesce((SELECT vault_key FROM made), (SELECT vault_key FROM users WHERE id = $1)) AS vault_key`,
      [userId, randomBytes(32)],
    );
    if (row?.vault_key) return new Uint8Array(row.vault_key);
    // another connection made it while this statement ran: its snapshot cannot see the key, a new one can
    const [again] = await this.q<{ vault_key: Buffer | null }>('SELECT vault_key FROM users WHERE id = $1', [userId]);
    if (!again?.vault_key) throw new StoreError('notFound', 'no such user');
    return new Uint8Array(again.vault_key);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    this.closed = true;
    await this.pool.end();
  }
}

/** What instances tell each other (server/cluster/pg_events.ts); sent in the writer's transaction. */
export async function notify(c: Queryable, event: object): Promise<void> {
  await c.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify(event)]);
}

/** Applies the migrations this database lacks, in one transaction, one instance at a time. */
async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    // held to the end of the transaction: the next instance waits, then finds nothing to do
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    const [row] = (await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')).rows;
    const version = row?.v ?? 0;
    if (version > MIGRATIONS.length) {
      throw new Error(`the database was written by a newer MedClass (schema ${version}; this one knows up to ${MIGRATIONS.length}); upgrade MedClass`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      await c.query(MIGRATIONS[v]!);
      await c.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
    }
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    translate(e);
  } finally {
    c.release();
  }
}
