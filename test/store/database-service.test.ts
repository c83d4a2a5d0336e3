import { Inject, Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfigModule, loadConfig } from '@badges/config';
import { ADVISORY_LOCKS, AuditRepository, DatabaseService, DIRTY_PREDICATE, IngestRepository, NOTIFY_DIRTY_SQL } from '@badges/store';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { DatabaseModule } from '../../apps/badge-service/src/database/database.module';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/kafka';

jest.setTimeout(30_000);

/** A second session, as another replica would hold one. */
async function otherSession(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

/** A promise the test settles by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('DatabaseService on the real Postgres', () => {
  let db: TestDatabase;
  let sut: DatabaseService;
  let other: Client;
  const tryOther = async (key: number) => (await other.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key])).rows[0].ok as boolean;
  const unlockOther = (key: number) => other.query('SELECT pg_advisory_unlock($1::bigint)', [key]);

  beforeAll(async () => {
    Logger.overrideLogger(false);
    db = await createTestDatabase('dbservice');
    sut = new DatabaseService(db.ds);
    other = await otherSession(db.url);
  });
  afterAll(async () => {
    await other?.end();
    await db?.drop();
  });

  it('pings through the pool', async () => {
    await expect(sut.ping()).resolves.toBeUndefined();
  });

  it('runs a job only while it holds the lock, on a session of its own, and gives the lock back after', async () => {
    const key = ADVISORY_LOCKS.resync;
    const inJob = gate();
    const finish = gate();
    const first = sut.tryLock('resync', async () => {
      inJob.open();
      await finish.opened;
      return 42;
    });
    await inJob.opened;
    // Held, against another replica and against a second job of this one (a session lock is re-entrant within
    // its session: only a connection of the job's own keeps two jobs of one process apart).
    expect(await tryOther(key)).toBe(false);
    const ran = jest.fn(async () => 0);
    expect(await sut.tryLock('resync', ran)).toEqual({ acquired: false });
    expect(ran).not.toHaveBeenCalled();

    finish.open();
    expect(await first).toEqual({ acquired: true, result: 42 });
    expect(await tryOther(key)).toBe(true);
    await unlockOther(key);
  });

  it('skips the job while another session holds the lock', async () => {
    const key = ADVISORY_LOCKS.zeroSourceRetention;
    expect(await tryOther(key)).toBe(true);
    try {
      const ran = jest.fn(async () => 1);
      expect(await sut.tryLock('zeroSourceRetention', ran)).toEqual({ acquired: false });
      expect(ran).not.toHaveBeenCalled();
    } finally {
      await unlockOther(key);
    }
    expect(await sut.tryLock('zeroSourceRetention', async () => 'ran')).toEqual({ acquired: true, result: 'ran' });
  });

  it("rethrows a failed job's error, the lock given back all the same", async () => {
    const boom = new Error('job failed');
    await expect(sut.tryLock('auditMaintenance', () => Promise.reject(boom))).rejects.toBe(boom);
    expect(await tryOther(ADVISORY_LOCKS.auditMaintenance)).toBe(true);
    await unlockOther(ADVISORY_LOCKS.auditMaintenance);
  });

  it('still frees the lock when its session dies mid-job, and the pool keeps working', async () => {
    const pass = sut.tryLock('resync', async () => {
      // The lock's session, found by the lock it holds, is killed (a network cut, a failover).
      const [{ killed }] = await db.ds.query(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
        [ADVISORY_LOCKS.resync],
      );
      return killed;
    });
    expect(await pass).toEqual({ acquired: true, result: true });
    expect(await tryOther(ADVISORY_LOCKS.resync)).toBe(true);
    await unlockOther(ADVISORY_LOCKS.resync);
    // Every connection of the pool (10) at once: none is the dead one.
    await Promise.all(Array.from({ length: 10 }, () => sut.ping()));
    expect(await sut.tryLock('resync', async () => 'again')).toEqual({ acquired: true, result: 'again' });
  });

  it('LISTENs on a channel, reconnects when its connection is killed, and stops at close', async () => {
    const got: (string | undefined)[] = [];
    const failures: string[] = [];
    let connections = 0;
    const sub = sut.listen('badge_dirty', {
      notify: (p) => got.push(p),
      connected: () => connections++,
      failed: (phase) => failures.push(phase),
    });
    const listeners = async () =>
      (await other.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'test-dbservice-listen'`, [db.name])).rows;
    try {
      await waitFor('the LISTEN connection', () => connections === 1);
      await db.ds.query(NOTIFY_DIRTY_SQL, ['3']);
      await waitFor('the first notification', () => got.length === 1);
      expect(got).toEqual(['3']);

      const [{ pid }] = await listeners();
      await other.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor('the reconnection', () => connections === 2, 10_000);
      expect(failures).toEqual(['lost']);
      await db.ds.query(NOTIFY_DIRTY_SQL, ['5']);
      await waitFor('a notification after the reconnection', () => got.length === 2);
      expect(got).toEqual(['3', '5']);
    } finally {
      await sub.close();
    }
    await waitFor('the LISTEN connection closed', async () => (await listeners()).length === 0);
    await db.ds.query(NOTIFY_DIRTY_SQL, ['7']);
    await db.ds.query('SELECT pg_sleep(0.2)'); // a notification would have arrived within it, were anyone listening
    expect(got).toEqual(['3', '5']);
  });

  it('refuses a channel that is not an identifier', () => {
    expect(() => sut.listen('badge_dirty; DROP TABLE badge_state', { notify: () => undefined })).toThrow(/not a channel name/);
  });

  it('the partial indexes of the dirty set have the predicate the queries state', async () => {
    const predicate = async (index: string) =>
      (await db.ds.query(`SELECT pg_get_expr(indpred, indrelid) AS p FROM pg_index WHERE indexrelid = $1::regclass`, [index]))[0].p as string;
    const runner = db.ds.createQueryRunner();
    await runner.connect();
    let probe: string;
    try {
      await runner.startTransaction();
      await runner.query(`CREATE INDEX dirty_probe ON badge_state (next_attempt_at) WHERE ${DIRTY_PREDICATE}`);
      probe = (await runner.query(`SELECT pg_get_expr(indpred, indrelid) AS p FROM pg_index WHERE indexrelid = 'dirty_probe'::regclass`))[0].p;
      await runner.rollbackTransaction();
    } finally {
      await runner.release();
    }
    expect(await predicate('badge_state_dirty')).toBe(probe);
    expect(await predicate('badge_state_dirty_tenant')).toBe(probe);
  });
});

describe('StoreModule', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    Logger.overrideLogger(false);
    db = await createTestDatabase('storemodule');
  });
  afterAll(() => db?.drop());
  const config = () => loadConfig({ BADGE_ROLES: 'ingest', DATABASE_URL: db.url, DATABASE_POOL_SIZE: '2', INGEST_MAX_SOURCES_PER_USER: '3' });

  it('provides the repositories and the DatabaseService, set up from the configuration, and closes the pool at shutdown', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config()), DatabaseModule] }).compile();
    const ds = moduleRef.get(DataSource);
    await moduleRef.get(DatabaseService).ping();
    expect(moduleRef.get(AuditRepository)).toBeInstanceOf(AuditRepository);
    expect((moduleRef.get(IngestRepository) as unknown as { options: unknown }).options).toEqual({ maxSourcesPerUser: 3 });
    expect(ds.isInitialized).toBe(true);
    await moduleRef.close();
    expect(ds.isInitialized).toBe(false);
  });

  it('is sealed: a module of the app cannot inject the DataSource', async () => {
    @Injectable()
    class WantsSql {
      constructor(@Inject(DataSource) readonly ds: DataSource) {}
    }
    @Module({ providers: [WantsSql] })
    class FeatureModule {}
    await expect(Test.createTestingModule({ imports: [AppConfigModule.forRoot(config()), DatabaseModule, FeatureModule] }).compile()).rejects.toThrow(
      /can't resolve dependencies of the WantsSql/,
    );
  });
});
