import { addDays, AUDIT_KINDS, auditDay, AuditPartitionsRepository, IngestRepository } from '@badges/store';
import { newestPerSource } from '@badges/contracts';
import { AUDIT_KIND_CHECK, AuditKindCheck1764460800000 } from '../../libs/store/src/migrations/1764460800000-audit-kind-check';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

jest.setTimeout(60_000);

/** badge_audit.kind takes the vocabulary's kinds only, in every partition, on the real Postgres. */
describe('the audit kind CHECK on the partitioned audit table', () => {
  let db: TestDatabase;
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  const today = auditDay(Date.now());
  const insert = (kind: string, at = 'now()') =>
    q(`INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, detail) VALUES (${at}, '', 'open_id', 'k', $1, 'test')`, [kind]);
  const refusal = (kind: string, at?: string) => insert(kind, at).then(() => null, (e: { code?: string; constraint?: string }) => ({ code: e.code, constraint: e.constraint }));
  /** Each table of the audit trail (parent and partitions) with its copy of the CHECK, if any. */
  const checks = async (): Promise<{ table: string; validated: boolean; local: boolean }[]> =>
    q(
      `SELECT c.relname AS table, k.convalidated AS validated, k.conislocal AS local
       FROM pg_class c
       LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.conname = $1
       WHERE c.oid = 'badge_audit'::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'badge_audit'::regclass)
       ORDER BY c.relname`,
      [AUDIT_KIND_CHECK],
    );

  beforeAll(async () => {
    db = await createTestDatabase('auditkind');
    // A daily partition made as the maintenance pass makes them (LIKE ... INCLUDING CONSTRAINTS, then ATTACH).
    await new AuditPartitionsRepository(db.ds).createPartition(today);
  });
  afterAll(() => db?.drop());

  it('lists exactly AUDIT_KINDS, validated, on the parent and every partition', async () => {
    const [def] = await q(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'badge_audit'::regclass AND conname = $1`, [AUDIT_KIND_CHECK]);
    const listed = [...def.def.matchAll(/'([^']*)'::text/g)].map((m: RegExpMatchArray) => m[1]);
    expect(listed).toEqual([...AUDIT_KINDS]);
    const tables = await checks();
    expect(tables.map((t) => t.table)).toEqual(['badge_audit', 'badge_audit_default', `badge_audit_p${today.replace(/-/g, '')}`]);
    // The partitions' copies are inherited (not local), so dropping the parent's drops them.
    expect(tables.map(({ validated, local }) => ({ validated, local }))).toEqual([
      { validated: true, local: true },
      { validated: true, local: false },
      { validated: true, local: false },
    ]);
  });

  it('takes every kind the service writes, and the writers write only those', async () => {
    for (const kind of AUDIT_KINDS) expect(await refusal(kind)).toBeNull();
    const ingest = new IngestRepository(db.ds);
    const { newest, superseded } = newestPerSource([event('w', 'a', 2, counts(1)), event('w', 'a', 1, counts(2))]);
    await ingest.applyBatch(newest, superseded, [{ tenantKey: '', userIdType: 'open_id', userId: 'w', eventId: null, source: null, reason: 'not JSON' }]);
    const written = await q(`SELECT kind FROM badge_audit WHERE user_id = 'w' ORDER BY kind`);
    expect(written.map((r: { kind: string }) => r.kind)).toEqual(['change', 'rejected', 'stale']);
  });

  it('refuses an unknown kind in the daily partition, the default one and a partition made after the migration', async () => {
    const refused = { code: '23514', constraint: AUDIT_KIND_CHECK };
    expect(await refusal('park')).toEqual(refused);
    expect(await refusal('Push')).toEqual(refused);
    expect(await refusal('')).toEqual(refused);
    expect(await refusal('park', `'2001-01-01T00:00:00Z'`)).toEqual(refused); // no partition for that day: the default one
    const later = addDays(today, 2);
    await new AuditPartitionsRepository(db.ds).createPartition(later);
    expect(await refusal('park', `'${later}T12:00:00Z'`)).toEqual(refused);
    expect(await refusal('push', `'${later}T12:00:00Z'`)).toBeNull();
    expect((await q(`SELECT count(*)::int AS n FROM badge_audit WHERE kind NOT IN (SELECT unnest($1::text[]))`, [[...AUDIT_KINDS]]))[0].n).toBe(0);
  });

  it('down() drops it from every partition; up() over a stray row fails, still refusing new ones, and validates once it is gone', async () => {
    const migration = new AuditKindCheck1764460800000();
    const runner = db.ds.createQueryRunner();
    await runner.connect();
    try {
      await migration.down(runner);
      expect((await checks()).filter((t) => t.validated !== null)).toEqual([]);
      await insert('park');

      await expect(migration.up(runner)).rejects.toMatchObject({ code: '23514' });
      // Added NOT VALID in its own transaction: new rows are checked already, the old ones wait for VALIDATE.
      expect((await checks()).map((t) => t.validated)).toEqual([false, false, false, false]);
      expect(await refusal('park')).toMatchObject({ code: '23514' });

      await q(`DELETE FROM badge_audit WHERE kind = 'park'`);
      await migration.up(runner);
      expect((await checks()).map((t) => t.validated)).toEqual([true, true, true, true]);
    } finally {
      await runner.release();
    }
  });
});
