import { Client } from 'pg';
import { DataSource } from 'typeorm';
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

export function createDataSource(url: string, poolSize = 10, applicationName = 'badge-reconciler'): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    applicationName,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 },
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
  const ds = createDataSource(o.url, o.poolSize, o.applicationName);
  try {
    await ds.initialize();
  } catch (e) {
    const hint = sqlState(e) === '3D000' && !o.create ? ' (DATABASE_CREATE=false: create it first, or set DATABASE_CREATE=true)' : '';
    throw startupError(`cannot connect to ${where}${hint}`, e, o.url);
  }
  try {
    return { ds, applied: o.migrate ? await migrate(ds) : [] };
  } catch (e) {
    await ds.destroy().catch(() => undefined);
    throw startupError(`cannot apply the migrations to ${where}`, e, o.url);
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
