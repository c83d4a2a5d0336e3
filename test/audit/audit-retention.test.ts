import { Logger } from '@nestjs/common';
import { configServiceOf, loadConfig } from '@badges/config';
import { addDays, ADVISORY_LOCKS, auditDay, AuditPartitionsRepository, partitionName } from '@badges/store';
import { Client } from 'pg';
import { AuditRetentionService } from '../../apps/badge-service/src/audit/audit-retention.service';
import { Clock } from '../../apps/badge-service/src/common/clock';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';

jest.setTimeout(60_000);

describe('audit trail retention on the real Postgres', () => {
  let db: TestDatabase;
  let sut: AuditPartitionsRepository;
  const today = auditDay(Date.now());
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);

  /** `n` audit rows for `user` from noon of `day` (UTC), a second apart. */
  const insertRows = (user: string, day: string, n: number) =>
    q(
      `INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, detail)
       SELECT ($2::date + time '12:00' + i * interval '1 second') AT TIME ZONE 'UTC', '', 'open_id', $1, 'resync', 'row ' || i
       FROM generate_series(1, $3) i`,
      [user, day, n],
    );
  const rowsOf = async (user: string): Promise<string[]> =>
    (await q(`SELECT id::text FROM badge_audit WHERE user_id = $1 ORDER BY id`, [user])).map((r: { id: string }) => r.id);
  const countIn = async (table: string) => (await q(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;
  const partitions = async () =>
    (await q(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'badge_audit'::regclass ORDER BY 1`)).map((r: { name: string }) => r.name);

  beforeAll(async () => {
    Logger.overrideLogger(false);
    db = await createTestDatabase('auditretention');
    sut = new AuditPartitionsRepository(db.ds);
  });
  afterAll(() => db?.drop());

  it('creates a partition idempotently, moving the rows the default partition holds for its day', async () => {
    const day = addDays(today, 20);
    await insertRows('early', day, 7);
    await insertRows('early', addDays(day, 1), 2);
    const ids = await rowsOf('early');
    expect(await countIn('badge_audit_default')).toBe(9);

    expect(await sut.createPartition(day)).toEqual({ created: true, moved: 7 });
    expect(await sut.createPartition(day)).toEqual({ created: false, moved: 0 });
    expect(await countIn(partitionName(day))).toBe(7);
    expect(await countIn('badge_audit_default')).toBe(2);
    expect(await rowsOf('early')).toEqual(ids);
    // The partition carries the parent's indexes (badge_audit_user among them), attached.
    const indexes = await q(
      `SELECT p.relname AS parent FROM pg_inherits h
       JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_class p ON p.oid = h.inhparent JOIN pg_index i ON i.indexrelid = c.oid
       WHERE i.indrelid = $1::regclass ORDER BY 1`,
      [partitionName(day)],
    );
    expect(indexes).toEqual([{ parent: 'badge_audit_push_outcome' }, { parent: 'badge_audit_series' }, { parent: 'badge_audit_user' }]);
  });

  it('loses no row written for a day while its partition is being created', async () => {
    const day = addDays(today, 30);
    await insertRows('busy', day, 50);
    let writing = true;
    let written = 50;
    let failed = 0;
    const errors = new Set<string>();
    const writer = (async () => {
      while (writing) {
        try {
          await insertRows('busy', day, 5);
          written += 5;
        } catch (e) {
          failed += 5;
          errors.add((e as Error).message);
        }
      }
    })();
    try {
      expect((await sut.createPartition(day)).created).toBe(true);
      const after = written;
      await waitFor('more writes after the attach', () => written >= after + 20, 20_000, 5);
    } finally {
      writing = false;
      await writer;
    }
    expect((await rowsOf('busy')).length).toBe(written);
    expect(await countIn(partitionName(day))).toBe(written);
    expect({ failed, errors: [...errors] }).toEqual({ failed: 0, errors: [] });
  });

  it('drops partitions older than retention, keeps recent history, and moves strays out of DEFAULT', async () => {
    // Partitions made in the past with the repository's own function, with rows in them.
    for (const back of [6, 5, 4]) {
      await sut.createPartition(addDays(today, -back));
      await insertRows('old', addDays(today, -back), 10);
    }
    // Rows that landed in DEFAULT before their partition existed: expired ones and recent ones.
    await insertRows('stray-old', addDays(today, -10), 3);
    await insertRows('recent', addDays(today, -1), 4);
    await q(`INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, detail)
             SELECT '', 'open_id', 'recent', 'resync', 'now ' || i FROM generate_series(1, 6) i`);
    const recentIds = await rowsOf('recent');
    expect(recentIds).toHaveLength(10);
    expect(await countIn('badge_audit_default')).toBeGreaterThanOrEqual(13);

    const config = loadConfig({ BADGE_ROLES: 'ingest', AUDIT_RETENTION_DAYS: '1' });
    const service = new AuditRetentionService(configServiceOf(config), sut, new Clock());
    const report = await service.runOnce();

    expect(report).not.toBeNull();
    expect(report!.failed).toEqual([]);
    expect(report!.dropped).toEqual(expect.arrayContaining([-10, -6, -5, -4].map((d) => addDays(today, d))));
    const names = await partitions();
    for (const d of [-1, 0, 1, 2, 3]) expect(names).toContain(partitionName(addDays(today, d)));
    for (const d of [-10, -6, -5, -4]) expect(names).not.toContain(partitionName(addDays(today, d)));
    expect(names).toContain('badge_audit_default');

    expect(await rowsOf('old')).toEqual([]);
    expect(await rowsOf('stray-old')).toEqual([]);
    expect(await rowsOf('recent')).toEqual(recentIds);
    expect(await countIn(partitionName(addDays(today, -1)))).toBe(4);
    expect(await countIn(partitionName(today))).toBeGreaterThanOrEqual(6);
    // The future strays of the first tests got their partitions; DEFAULT holds nothing now.
    expect(await countIn('badge_audit_default')).toBe(0);

    // A second pass finds nothing to do.
    expect(await service.runOnce()).toEqual({ created: [], moved: 0, dropped: [], failed: [] });
  });

  it('runs on one replica at a time: a pass is skipped while another session holds the lock', async () => {
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.auditMaintenance]);
      expect(await sut.maintain({ days: [addDays(today, 40)], dropBefore: new Date(0) })).toBeNull();
      expect(await partitions()).not.toContain(partitionName(addDays(today, 40)));
      await other.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.auditMaintenance]);
      expect((await sut.maintain({ days: [addDays(today, 40)], dropBefore: new Date(0) }))!.created).toEqual([addDays(today, 40)]);
    } finally {
      await other.end();
    }
    // The pass released its lock: another session can take it at once.
    const probe = new Client({ connectionString: db.url });
    await probe.connect();
    try {
      expect((await probe.query('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCKS.auditMaintenance])).rows[0].ok).toBe(true);
    } finally {
      await probe.end();
    }
  });
});
