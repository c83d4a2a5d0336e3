import { newestPerSource } from '@badges/contracts';
import { addDays, AuditLookbackRepository, AuditPartitionsRepository, IngestRepository, migrate, PUSH_SERIES_SQL } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/kafka';
import { AuditApp, startAuditApp } from './audit-app';

jest.setTimeout(60_000);

/** The console's endpoints: GET /v1/badges/{userId}?at= and GET /v1/stats/series, on the real Postgres. */
describe('audit API: the badge at a past moment, and the health series', () => {
  let db: TestDatabase;
  let api: AuditApp;
  let ingest: IngestRepository;

  const apply = (events: ReturnType<typeof event>[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  /** The database's clock now, as the API's text form (microseconds, UTC). */
  const dbNow = async (): Promise<string> =>
    (await q(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))[0].t;
  const at = (userId: string, instant: string) => api.call(`/v1/badges/${userId}?at=${encodeURIComponent(instant)}`);

  beforeAll(async () => {
    db = await createTestDatabase('lookback');
    ingest = new IngestRepository(db.ds);
    api = await startAuditApp(db);
    await waitFor('audit partitions created at start', async () => (await q(`SELECT to_regclass('badge_audit_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')) AS t`))[0].t);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  describe('GET /v1/badges/:userId?at=', () => {
    const marks: string[] = [];
    beforeAll(async () => {
      marks.push(await dbNow()); // 0: before the user existed
      await apply([event('carol', 'approval', 1, counts(1, 2, 1, 2)), event('carol', 'task', 1, counts(3, 0, 0, 1))]);
      marks.push(await dbNow()); // 1
      await apply([event('carol', 'approval', 2, counts(5, 0, 5, 0))]);
      await apply([event('carol', 'approval', 1, counts(9, 9, 9, 9))]); // stale: changes nothing
      marks.push(await dbNow()); // 2
      await apply([event('carol', 'task', 2, counts(0, 0, 0, 0)), event('carol', 'inbox', 7, counts(0, 1, 0, 1))]);
      marks.push(await dbNow()); // 3
    });

    it('sums each source as it stood at that instant', async () => {
      const expectAt = async (i: number, desired: unknown, sources: [string, unknown, number][]) => {
        const r = await at('carol', marks[i]);
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ userId: 'carol', userIdType: 'open_id', tenantKey: '', at: marks[i], desired });
        expect(r.body.sources.map((s: any) => [s.source, s.counts, s.sequence])).toEqual(sources);
      };
      await expectAt(0, counts(0, 0, 0, 0), []);
      await expectAt(1, counts(4, 2, 1, 3), [
        ['approval', counts(1, 2, 1, 2), 1],
        ['task', counts(3, 0, 0, 1), 1],
      ]);
      await expectAt(2, counts(8, 0, 5, 1), [
        ['approval', counts(5, 0, 5, 0), 2],
        ['task', counts(3, 0, 0, 1), 1],
      ]);
      await expectAt(3, counts(5, 1, 5, 1), [
        ['approval', counts(5, 0, 5, 0), 2],
        ['inbox', counts(0, 1, 0, 1), 7],
        ['task', counts(0, 0, 0, 0), 2],
      ]);
      // The current badge is the last moment's.
      expect((await api.call('/v1/badges/carol')).body.desired).toEqual(counts(5, 1, 5, 1));
    });

    it('includes a change stored at exactly the instant picked on the timeline', async () => {
      const { body } = await api.call('/v1/badges/carol/history?limit=200');
      const inbox = body.items.find((i: any) => i.kind === 'change' && i.source === 'inbox');
      const r = await at('carol', inbox.at);
      expect(r.body.sources.find((s: any) => s.source === 'inbox')).toEqual({
        source: 'inbox',
        counts: counts(0, 1, 0, 1),
        sequence: 7,
        eventId: 'carol:inbox:7',
        changedAt: inbox.at,
      });
    });

    it('reads a source from the change after the instant, or from its stored row, when the change before is gone', async () => {
      await apply([event('dave', 'approval', 1, counts(2, 0, 0, 0)), event('dave', 'task', 1, counts(0, 3, 0, 0))]);
      const mid = await dbNow();
      await apply([event('dave', 'approval', 2, counts(7, 0, 0, 0))]);
      // As if retention had dropped the first batch's rows: approval is known from the counts its later change
      // replaced, task (unchanged since) from its stored row.
      await q(`DELETE FROM badge_audit WHERE user_id = 'dave' AND kind = 'change' AND sequence = 1`);
      const r = await at('dave', mid);
      expect(r.status).toBe(200);
      expect(r.body.desired).toEqual(counts(2, 3, 0, 0));
      expect(r.body.sources).toEqual([
        { source: 'approval', counts: counts(2, 0, 0, 0), sequence: null, eventId: null, changedAt: null },
        expect.objectContaining({ source: 'task', counts: counts(0, 3, 0, 0), sequence: 1, eventId: 'dave:task:1' }),
      ]);
    });

    it('answers 400 with the reason for a time that is not an instant, in the future, or before the trail kept', async () => {
      for (const bad of ['yesterday', '2026-11-24T08:00:00', '2026-02-30T00:00:00Z', '2026-11-24T24:00:00Z', '2026-11-24 08:00:00Z', '']) {
        const r = await at('carol', bad);
        expect([bad, r.status, r.body.message]).toEqual([bad, 400, ['at must be an ISO-8601 date-time with a time zone, e.g. 2026-11-24T08:00:00.000Z']]);
      }
      const future = await at('carol', new Date(Date.now() + 3_600_000).toISOString());
      expect(future.status).toBe(400);
      expect(future.body.message[0]).toMatch(/^at is in the future \(the audit clock says \d{4}-/);
      const [{ day }] = await q(`SELECT min(to_date(substr(relname, 14), 'YYYYMMDD'))::text AS day FROM pg_class WHERE relname ~ '^badge_audit_p[0-9]{8}$'`);
      const old = await at('carol', '2020-01-01T00:00:00Z');
      expect(old.status).toBe(400);
      expect(old.body.message).toEqual([`at is before the audit trail kept (from ${day}T00:00:00.000Z; AUDIT_RETENTION_DAYS)`]);
      expect((await at('carol', '2026-11-24T09:00:00+01:00')).status).not.toBe(500);
    });

    it('answers 404 for an unknown user', async () => {
      expect((await at('nobody', await dbNow())).status).toBe(404);
    });
  });

  describe('GET /v1/stats/series', () => {
    beforeAll(async () => {
      // Push rows 5 and 2 minutes ago (and one outside a one-hour window), plus a mass of other rows the series must not read.
      await q(`
        INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, version, outcome, code, latency_ms, event_lag_ms)
        SELECT date_trunc('minute', clock_timestamp()) - m * interval '1 minute' + interval '10 seconds', '', 'open_id', 'u' || i, 'push', i,
               o, CASE o WHEN 'applied' THEN 0 ELSE 213004 END, 20, CASE WHEN o = 'applied' THEN lag END
        FROM (VALUES (5, 'applied', 100), (5, 'applied', 200), (5, 'applied', 300), (5, 'concurrent', NULL),
                     (2, 'applied', 1000), (2, 'transient', NULL), (2, 'transient', NULL), (90, 'applied', 50))
             AS v(m, o, lag), generate_series(1, 1) i`);
      await q(`
        INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, source, sequence, event_id)
        SELECT '', 'open_id', 'bulk' || (i % 500), 'change', 'approval', i, 'e' || i FROM generate_series(1, 20000) i`);
      await q(`ANALYZE badge_audit`);
    });

    it('gives every minute of the window with pushes by outcome and event→applied latency', async () => {
      const r = await api.call('/v1/stats/series?hours=1');
      expect(r.status).toBe(200);
      expect(r.body.bucketSeconds).toBe(60);
      expect(r.body.buckets).toHaveLength(60);
      expect(Date.parse(r.body.to) - Date.parse(r.body.from)).toBe(3_600_000);
      expect(r.body.outcomes).toEqual(['applied', 'concurrent', 'transient']);
      const last = r.body.buckets.length - 1;
      const fiveAgo = r.body.buckets[last - 5];
      expect(fiveAgo.pushes).toEqual({ applied: 3, concurrent: 1 });
      expect(fiveAgo.eventToApplied).toEqual({ count: 3, p50Ms: 200, p95Ms: 290, maxMs: 300 });
      expect(r.body.buckets[last - 2]).toMatchObject({ pushes: { applied: 1, transient: 2 }, eventToApplied: { count: 1, p50Ms: 1000, p95Ms: 1000, maxMs: 1000 } });
      const others = r.body.buckets.filter((_: unknown, i: number) => i !== last - 5 && i !== last - 2);
      expect(others.every((b: any) => Object.keys(b.pushes).length === 0 && b.eventToApplied === null)).toBe(true);
      const longer = await api.call('/v1/stats/series?hours=2');
      expect(longer.body.buckets).toHaveLength(120);
      expect(longer.body.buckets[119 - 90].pushes).toEqual({ applied: 1 });
      expect((await api.call('/v1/stats/series')).body.buckets).toHaveLength(180);
    });

    it('reads the partial index badge_audit_series, not the audit rows', async () => {
      const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      // On a test's few rows a seq scan of a tiny partition can be cheaper (CI saw one): with seq scans priced out,
      // the plan still falls back to one unless the partial index can serve the query, which is what this asserts.
      const [{ 'QUERY PLAN': plan }] = await db.ds.transaction(async (m) => {
        await m.query(`SET LOCAL enable_seqscan = off`);
        return m.query(`EXPLAIN (FORMAT JSON) ${PUSH_SERIES_SQL}`, [from, to]);
      });
      const scans: { type: string; index: string | null }[] = [];
      const walk = (n: any) => {
        if (n['Relation Name']) scans.push({ type: n['Node Type'], index: n['Index Name'] ?? null });
        for (const c of n.Plans ?? []) walk(c);
      };
      walk(plan[0].Plan);
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.map((s) => s.type)).toEqual(scans.map(() => 'Index Only Scan'));
      // Each partition's index is a part of badge_audit_series (those made by maintenance carry generated names).
      const parents = await q(
        `SELECT DISTINCT ii.inhparent::regclass::text AS parent FROM pg_inherits ii JOIN pg_class c ON c.oid = ii.inhrelid WHERE c.relname = ANY($1)`,
        [scans.map((s) => s.index)],
      );
      expect(parents).toEqual([{ parent: 'badge_audit_series' }]);
    });

    it('has the index valid on the parent and on every partition, including those made after the migration', async () => {
      const [{ valid }] = await q(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'badge_audit_series'::regclass`);
      expect(valid).toBe(true);
      const missing = await q(`
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'badge_audit'::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
                          WHERE ii.inhparent = 'badge_audit_series'::regclass AND x.indrelid = c.oid)`);
      expect(missing).toEqual([]);
    });

    it("counts only a restricted token's tenants", async () => {
      await q(`
        INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, version, outcome, event_lag_ms)
        VALUES ('t-a', 'open_id', 'x', 'push', 1, 'applied', 5), ('t-a', 'open_id', 'y', 'push', 2, 'applied', 7), ('t-b', 'open_id', 'z', 'push', 3, 'concurrent', NULL)`);
      const repo = new AuditLookbackRepository(db.ds);
      const { fromMs, toMs } = await repo.seriesWindow(60);
      const rows = await repo.pushSeries(fromMs, toMs, ['t-a']);
      expect(rows.map((r) => [r.outcome, r.n, r.lag_n, r.lag_max_ms])).toEqual([['applied', 2, 2, 7]]);
    });

    it('answers 400 for a window out of range or an unknown parameter', async () => {
      for (const bad of ['hours=0', 'hours=25', 'hours=1.5', 'hours=x', 'minutes=5']) {
        const r = await api.call(`/v1/stats/series?${bad}`);
        expect([bad, r.status]).toEqual([bad, 400]);
        expect(r.body.message.length).toBeGreaterThan(0);
      }
    });
  });

  it('builds the index on a trail that already has day partitions with rows (an upgrade), and again after an interrupted run', async () => {
    // Back to the schema before the migration, with partitions and rows the migration must index.
    await q(`DROP INDEX badge_audit_series`);
    await q(`ALTER TABLE badge_audit DROP COLUMN event_lag_ms`);
    await q(`DELETE FROM schema_migrations WHERE name = 'AuditSeriesIndex1764547200000'`);
    const partitions = new AuditPartitionsRepository(db.ds);
    const [{ today }] = await q(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today`);
    await partitions.createPartition(addDays(today, 5));
    await q(`INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, outcome) VALUES ($1, '', 'open_id', 'up', 'push', 'applied')`, [
      `${addDays(today, 5)}T01:00:00Z`,
    ]);
    // An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index behind: simulated by one marked invalid.
    await q(`ALTER TABLE badge_audit ADD COLUMN event_lag_ms integer`);
    await q(`CREATE INDEX badge_audit_default_series ON badge_audit_default (at) WHERE kind = 'push'`);
    await q(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'badge_audit_default_series'::regclass`);
    expect(await migrate(db.ds)).toEqual(['AuditSeriesIndex1764547200000']);
    const [{ valid }] = await q(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'badge_audit_series'::regclass`);
    expect(valid).toBe(true);
    const attached = await q(`
      SELECT c.relname, x.indisvalid AS valid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      LEFT JOIN LATERAL (SELECT xi.indisvalid FROM pg_inherits ii JOIN pg_index xi ON xi.indexrelid = ii.inhrelid
                         WHERE ii.inhparent = 'badge_audit_series'::regclass AND xi.indrelid = c.oid) x ON true
      WHERE i.inhparent = 'badge_audit'::regclass`);
    expect(attached.filter((r: any) => r.valid !== true)).toEqual([]);
    expect(attached.map((r: any) => r.relname)).toContain(`badge_audit_p${addDays(today, 5).replace(/-/g, '')}`);
  });
});
