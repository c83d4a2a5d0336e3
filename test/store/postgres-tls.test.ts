import { randomBytes } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { AppConfig, AppConfigModule, loadConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { AuditPartitionsRepository, DatabaseStartupError, IngestRepository, openDatabase } from '@badges/store';
import { DataSource } from 'typeorm';
import { DatabaseModule } from '../../apps/badge-service/src/database/database.module';
import { counts, event } from '../support/events';
import { runNode, ROOT } from '../support/service';
import { startTlsPostgres, TlsPostgres } from '../support/tls-postgres';
import path from 'node:path';

jest.setTimeout(60_000);

const MIGRATE_MAIN = path.join(ROOT, 'dist/apps/badge-service/apps/badge-service/src/migrate.js');

/**
 * DATABASE_URL's TLS on a real server: a throwaway cluster with ssl=on that accepts TCP only over TLS, its
 * certificate signed by a CA made for this run. verify-full must check both the CA and the host name.
 */
describe('Postgres over TLS (sslmode=verify-full)', () => {
  let pg: TlsPostgres;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const url = (o: { host?: string; db: string; ca?: string; user?: string }) =>
    `postgres://${o.user ?? `badges_app:${password}`}@${o.host ?? '127.0.0.1'}:${pg.port}/${o.db}?sslmode=verify-full&sslrootcert=${o.ca ?? pg.caFile}`;

  beforeAll(async () => {
    pg = await startTlsPostgres();
    pg.sql(`CREATE ROLE badges_app LOGIN CREATEDB PASSWORD '${password}'`);
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('creates, migrates and queries through the service database module over verified TLS', async () => {
    const config = loadConfig({ BADGE_ROLES: 'ingest', DATABASE_URL: url({ db: 'badges_tls' }) });
    const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), DatabaseModule] }).compile();
    try {
      const ds = moduleRef.get(DataSource);
      const [row] = await ds.query(`SELECT s.ssl, current_user AS "user" FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`);
      expect(row).toEqual({ ssl: true, user: 'badges_app' });
      const applied = await ds.query(`SELECT count(*)::int AS n FROM schema_migrations`);
      expect(applied[0].n).toBeGreaterThan(0);
      expect(moduleRef.get<ConfigService<AppConfig, true>>(ConfigService).get('hardening', { infer: true }).databaseCreate).toBe(true);
    } finally {
      await moduleRef.close();
    }
  });

  it('refuses a server whose certificate another CA signed, with a clear error', async () => {
    const err = await openDatabase({ url: url({ db: 'badges_tls', ca: pg.otherCaFile }), poolSize: 2, create: false, migrate: false }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseStartupError);
    expect((err as Error).message).toMatch(/^cannot connect to database "badges_tls" on 127\.0\.0\.1:\d+ as user "badges_app": TLS: the server's certificate is not signed by a trusted CA/);
    expect((err as Error).message).not.toContain(password);
  });

  it('refuses a server whose certificate does not name the host connected to', async () => {
    const err = await openDatabase({ url: url({ db: 'badges_tls', host: '127.0.0.2' }), poolSize: 2, create: false, migrate: false }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseStartupError);
    expect((err as DatabaseStartupError).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect((err as Error).message).toMatch(/TLS: the server's certificate does not name the host/);
  });

  it('is really TLS: the same server refuses the connection without it', async () => {
    const plain = `postgres://badges_app:${password}@127.0.0.1:${pg.port}/badges_tls?sslmode=disable`;
    const err = await openDatabase({ url: plain, poolSize: 2, create: false, migrate: false }).then(() => null, (e: unknown) => e);
    expect((err as Error).message).toMatch(/no encryption|pg_hba\.conf rejects/);
    expect((err as Error).message).not.toContain(password);
  });

  it('DATABASE_CREATE=false connects to the target only: a missing database is a clear start-up error', async () => {
    const config = loadConfig({ BADGE_ROLES: 'ingest', DATABASE_CREATE: 'false', DATABASE_URL: url({ db: 'badges_missing' }) });
    const err = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), DatabaseModule] })
      .compile()
      .then(
        async (m) => {
          await m.close();
          return null;
        },
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(DatabaseStartupError);
    expect((err as Error).message).toBe(
      'cannot connect to database "badges_missing" on 127.0.0.1:' + pg.port + ' as user "badges_app" (DATABASE_CREATE=false: create it first, or set DATABASE_CREATE=true): database "badges_missing" does not exist',
    );
    expect(pg.sql(`SELECT count(*) FROM pg_database WHERE datname = 'badges_missing'`).trim()).toBe('0');
  });

  it('npm run migrate applies the migrations to a fresh database and exits; then has nothing to apply', async () => {
    pg.sql('CREATE DATABASE badges_job OWNER badges_app');
    const env = { DATABASE_URL: url({ db: 'badges_job' }), DATABASE_CREATE: 'false' };

    const first = runNode(MIGRATE_MAIN, env);
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/^migrations applied: InitialSchema\d+, /m);
    expect(pg.sql(`SELECT to_regclass('badge_state') IS NOT NULL`, 'badges_job').trim()).toBe('t');

    const second = runNode(MIGRATE_MAIN, env);
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('migrations: nothing to apply');
    expect(first.output() + second.output()).not.toContain(password);
  });

  it('npm run migrate fails with a clear message and a non-zero status, never printing the password', async () => {
    const p = runNode(MIGRATE_MAIN, { DATABASE_URL: url({ db: 'badges_job', ca: pg.otherCaFile }) });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/^badge-reconciler migrate: failed: cannot create or find database "badges_job" .*TLS: the server's certificate is not signed by a trusted CA/m);
    expect(p.output()).not.toContain(password);

    const bad = runNode(MIGRATE_MAIN, { DATABASE_URL: `postgres://badges_app:${password}@127.0.0.1:99999/badges_job` });
    expect(await bad.exited).toBe(78);
    expect(bad.output()).toContain('DATABASE_URL: not a valid URL');
    expect(bad.output()).not.toContain(password);
  });

  it('roles: migrations under the owning role, the service under a DML-only role; partition DDL needs the owner', async () => {
    // The README's recipe: the owner runs `npm run migrate`, the runtime role gets DML on what the owner creates.
    pg.sql(`CREATE ROLE badges_owner LOGIN PASSWORD '${password}'`);
    pg.sql(`CREATE ROLE badges_rt LOGIN PASSWORD '${password}'`);
    pg.sql('CREATE DATABASE badges_roles OWNER badges_owner');
    pg.sql('ALTER DEFAULT PRIVILEGES FOR ROLE badges_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO badges_rt', 'badges_roles');
    pg.sql('ALTER DEFAULT PRIVILEGES FOR ROLE badges_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO badges_rt', 'badges_roles');
    const asOwner = url({ db: 'badges_roles', user: `badges_owner:${password}` });
    const asRuntime = url({ db: 'badges_roles', user: `badges_rt:${password}` });

    // The runtime role cannot migrate: a clear failure, exit 1.
    const refused = runNode(MIGRATE_MAIN, { DATABASE_URL: asRuntime, DATABASE_CREATE: 'false' });
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(/cannot apply the migrations to database "badges_roles" .* as user "badges_rt": permission denied for schema public/);

    const job = runNode(MIGRATE_MAIN, { DATABASE_URL: asOwner, DATABASE_CREATE: 'false' });
    expect(await job.exited).toBe(0);
    expect(job.output()).toMatch(/^audit partitions: created \[/m);

    const config = loadConfig({ BADGE_ROLES: 'ingest', DATABASE_URL: asRuntime, DATABASE_CREATE: 'false', DATABASE_MIGRATE: 'false' });
    const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), DatabaseModule] }).compile();
    try {
      const ds = moduleRef.get(DataSource);
      const outcome = await moduleRef.get(IngestRepository).applyBatch([event('ou_roles', 'approval', 1, counts(3))], []);
      expect(outcome).toMatchObject({ accepted: 1, usersChanged: 1 });
      // Partition maintenance without DDL rights: each day is reported failed (and retried), nothing else breaks.
      const farDay = new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 10);
      const report = await new AuditPartitionsRepository(ds).maintain({ days: [farDay], dropBefore: new Date(0) });
      expect(report?.created).toEqual([]);
      expect(report?.failed).toEqual([{ day: farDay, action: 'create', error: expect.stringMatching(/permission denied for schema public|must be owner/) }]);
    } finally {
      await moduleRef.close();
    }
  });
});
