import { Client } from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { MIGRATIONS } from './migrations';

/** Advisory lock keys, one per job that must run on one replica at a time. */
export const ADVISORY_LOCKS = {
  migrations: 7_263_110_001,
  resync: 7_263_110_002,
  auditMaintenance: 7_263_110_003,
  zeroSourceRetention: 7_263_110_004,
} as const;

/** Creates the database named in the URL when it is missing (two replicas racing is fine). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      } catch (e) {
        // 42P04 duplicate_database, 23505 when two CREATE DATABASE race on the catalog
        const code = (e as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw e;
      }
    }
  } finally {
    await client.end();
  }
}

/** How much longer than the server's statement_timeout the client waits for any answer. */
export const CLIENT_TIMEOUT_GRACE_MS = 2000;

/** A query that got no answer within DATABASE_QUERY_TIMEOUT_MS (and the grace); its connection was closed, not reused. */
export class QueryTimeoutError extends Error {
  override readonly name = 'QueryTimeoutError';
  readonly code = 'QUERY_TIMEOUT';
}

/**
 * A pg Client whose every query must be answered within `timeoutMs`, or its connection is destroyed. A Postgres
 * that stops answering without closing the connection (a failover or a partition that drops packets instead of
 * refusing them) would otherwise hold each query until the kernel gives up on the socket, ~15 minutes, and with it
 * every replica's reconcile loop. pg's own `query_timeout` rejects the query but leaves it on the connection, and
 * the pool would hand that connection out again behind it; destroying it makes the client emit 'error', on which
 * TypeORM releases it with the error and the pool drops it.
 */
export function timedClient(timeoutMs: number): typeof Client {
  const query = Client.prototype.query as (...a: unknown[]) => unknown;
  return class TimedClient extends Client {
    /** Set by withoutQueryLimit() for the statements whose length grows with the data. */
    untimed = false;

    override query(...args: unknown[]): any {
      if (this.untimed) return query.apply(this, args);
      let timedOut = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        timer = setTimeout(() => {
          timedOut = true;
          (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        }, timeoutMs);
      };
      /** The query's error (or none) once it settled, named for what happened when the timer closed it. */
      const settle = (e: unknown) => {
        clearTimeout(timer);
        return timedOut && e ? new QueryTimeoutError(`Postgres gave no answer within ${timeoutMs} ms (DATABASE_QUERY_TIMEOUT_MS and a grace): the connection was closed`) : e;
      };
      const last = args[args.length - 1];
      // The callback form, as pg-pool's pool.query (named statements) calls it.
      if (typeof last === 'function') {
        const callback = last as (e: unknown, r?: unknown) => void;
        args[args.length - 1] = (e: unknown, r: unknown) => callback(settle(e), r);
        const returned = query.apply(this, args);
        arm();
        return returned;
      }
      const result = query.apply(this, args);
      // A Submittable (a cursor) is not timed; the service runs none.
      if (!(result instanceof Promise)) return result;
      arm();
      return result.then(
        (r: unknown) => {
          settle(null);
          return r;
        },
        (e: unknown) => {
          throw settle(e);
        },
      );
    }
  };
}

/**
 * Runs `work` on the runner's connection without DATABASE_QUERY_TIMEOUT_MS, for the few statements whose length
 * grows with the data (the shadow to live reset of every user, audit partition maintenance). Inside a
 * transaction the server's limit is lifted for it alone (SET LOCAL); otherwise for the session until `work` ends.
 */
export async function withoutQueryLimit<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  const client = (await runner.connect()) as { untimed?: boolean };
  const inTransaction = runner.isTransactionActive;
  await runner.query(inTransaction ? 'SET LOCAL statement_timeout = 0' : 'SET statement_timeout = 0');
  const was = client.untimed;
  client.untimed = true;
  try {
    return await work();
  } finally {
    client.untimed = was;
    if (!inTransaction && !was) await runner.query('RESET statement_timeout').catch(() => undefined);
  }
}

/** `queryTimeoutMs` 0: no limit (migrations, the snapshot job, tests' own connections). */
export function createDataSource(url: string, poolSize = 10, applicationName = 'badge-reconciler', queryTimeoutMs = 0): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName,
    extra: {
      max: poolSize,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      // TCP keepalive on the pool's sockets (the kernel's probe interval and count apply after the first 10 s).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // A live server cancels a statement past the limit itself (57014, the connection kept); the client's own
      // timer, a little later, is for a server that no longer answers at all.
      ...(queryTimeoutMs > 0 ? { statement_timeout: queryTimeoutMs, Client: timedClient(queryTimeoutMs + CLIENT_TIMEOUT_GRACE_MS) } : {}),
    },
  });
}

/** Applies pending migrations while holding a session advisory lock, so replicas starting together take turns. */
export async function migrate(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migrations]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migrations]).catch(() => undefined);
    await runner.release();
  }
}

export interface OpenDatabaseOptions {
  readonly url: string;
  readonly poolSize: number;
  /** Create the database when it is missing (maintenance connection to `postgres`); false connects to it only. */
  readonly create: boolean;
  readonly migrate: boolean;
  readonly applicationName?: string;
  /** Each query's limit once running (DATABASE_QUERY_TIMEOUT_MS); 0 or absent: none. Migrations never have one. */
  readonly queryTimeoutMs?: number;
}

/** A start-up failure of the database, its message free of the URL's password and of query parameters. */
export class DatabaseStartupError extends Error {
  override readonly name = 'DatabaseStartupError';
  constructor(
    message: string,
    /** The driver's or the server's code (SQLSTATE, errno or TLS code), when it had one. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** Connects (creating the database first when asked), then applies pending migrations when asked. */
export async function openDatabase(o: OpenDatabaseOptions): Promise<{ ds: DataSource; applied: string[] }> {
  const where = describeTarget(o.url);
  if (o.create) {
    await ensureDatabase(o.url).catch((e: unknown) => {
      throw startupError(`cannot create or find ${where} through the maintenance database "postgres"`, e, o.url);
    });
  }
  const timeoutMs = o.queryTimeoutMs ?? 0;
  const ds = createDataSource(o.url, o.poolSize, o.applicationName, timeoutMs);
  try {
    await ds.initialize();
  } catch (e) {
    const hint = sqlState(e) === '3D000' && !o.create ? ' (DATABASE_CREATE=false: create it first, or set DATABASE_CREATE=true)' : '';
    throw startupError(`cannot connect to ${where}${hint}`, e, o.url);
  }
  if (!o.migrate) return { ds, applied: [] };
  // Migrations run without the query limit (an index over millions of rows takes longer), on connections of
  // their own when the pool has one: two, one holding the advisory lock and one for TypeORM's migration runner.
  const migrations = timeoutMs > 0 ? createDataSource(o.url, 2, o.applicationName) : ds;
  try {
    if (migrations !== ds) await migrations.initialize();
    return { ds, applied: await migrate(migrations) };
  } catch (e) {
    await ds.destroy().catch(() => undefined);
    throw startupError(`cannot apply the migrations to ${where}`, e, o.url);
  } finally {
    if (migrations !== ds && migrations.isInitialized) await migrations.destroy().catch(() => undefined);
  }
}

/** `database "badges" on host:port as user "u"`, never the password or the query. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return `database "${db}" on ${u.host} as user "${decodeURIComponent(u.username) || '(default)'}"`;
  } catch {
    return 'the database of DATABASE_URL (not a valid URL)';
  }
}

const TLS_UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

function startupError(what: string, e: unknown, url: string): DatabaseStartupError {
  const code = errorCode(e);
  let why: string;
  if (code !== null && TLS_UNTRUSTED.has(code)) {
    why = `TLS: the server's certificate is not signed by a trusted CA (${code}); sslrootcert must name the CA that signed it`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    why = `TLS: the server's certificate does not name the host of DATABASE_URL (${code})`;
  } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    why = `TLS: the server's certificate is not valid now (${code})`;
  } else {
    why = redactSecrets(e instanceof Error ? e.message : String(e), url);
  }
  return new DatabaseStartupError(`${what}: ${why}`, code);
}

function sqlState(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

function errorCode(e: unknown): string | null {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[\w.-]{1,64}$/.test(code) ? code : null;
}

/**
 * A message with any connection URL's password and the given URL's password taken out. Driver messages do not
 * normally carry either; this keeps a future one that does out of logs.
 */
export function redactSecrets(text: string, url?: string): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/?#@\s]*:)[^@\s]*@/gi, '$1[redacted]@');
  if (url !== undefined) {
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password.length > 0) out = out.split(password).join('[redacted]');
    } catch {
      // not a URL: nothing more to take out
    }
  }
  return out;
}
