import { AppConfig, configServiceOf } from '@badges/config';
import { newestPerSource } from '@badges/contracts';
import { ADVISORY_LOCKS, DatabaseService, IngestRepository } from '@badges/store';
import { Client } from 'pg';
import { Clock } from '../../apps/badge-service/src/common/clock';
import { ZeroSourceRetentionService } from '../../apps/badge-service/src/ingest/zero-source-retention.service';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

/** A user's stored sources are bounded: a cap on new ones, and zero ones dropped after the retention. */
describe('bounded sources per user on the real Postgres', () => {
  let db: TestDatabase;
  let sut: IngestRepository;
  const CAP = 3;

  beforeAll(async () => {
    db = await createTestDatabase('sourcebounds');
    sut = new IngestRepository(db.ds, { maxSourcesPerUser: CAP });
  });
  afterAll(() => db.drop());

  const apply = (events: ReturnType<typeof event>[]) => {
    const { newest, superseded } = newestPerSource(events);
    return sut.applyBatch(newest, superseded);
  };
  const sources = async (userId: string) =>
    (await db.ds.query(`SELECT source FROM badge_source WHERE user_id = $1 ORDER BY source`, [userId])).map((r: { source: string }) => r.source);
  const desired = async (userId: string) =>
    (await db.ds.query(`SELECT desired_pc_web_app AS pc, desired_revision AS rev FROM badge_state WHERE user_id = $1`, [userId]))[0];

  describe('INGEST_MAX_SOURCES_PER_USER', () => {
    it('refuses a new source of a user at the cap, audits it, and still accepts updates to existing sources', async () => {
      await apply([event('c1', 'a', 1, counts(1)), event('c1', 'b', 1, counts(1)), event('c1', 'c', 1, counts(0))]);
      const r = await apply([event('c1', 'a', 2, counts(5)), event('c1', 'd', 1, counts(7))]);
      expect(r).toEqual({
        accepted: 1,
        stale: 0,
        usersChanged: 1,
        refused: [{ tenantKey: '', userIdType: 'open_id', userId: 'c1', source: 'd' }],
      });
      expect(await sources('c1')).toEqual(['a', 'b', 'c']); // the zero source 'c' counts toward the cap
      expect((await desired('c1')).pc).toBe(6);
      const audit = await db.ds.query(`SELECT kind, detail FROM badge_audit WHERE user_id = 'c1' AND source = 'd'`);
      expect(audit).toEqual([
        { kind: 'rejected', detail: 'rejected to the dead-letter topic: source: user already has 3 sources (INGEST_MAX_SOURCES_PER_USER)' },
      ]);
    });

    it('admits new sources of one batch up to the cap, in source order, and counts per user', async () => {
      await apply([event('c2', 'm', 1, counts(1))]);
      const r = await apply([
        event('c2', 'z', 1, counts(1)),
        event('c2', 'x', 1, counts(1)),
        event('c2', 'y', 1, counts(1)),
        event('c3', 'x', 1, counts(1)),
        event('c3', 'y', 1, counts(1)),
      ]);
      expect(r.refused).toEqual([{ tenantKey: '', userIdType: 'open_id', userId: 'c2', source: 'z' }]);
      expect(r.accepted).toBe(4);
      expect(await sources('c2')).toEqual(['m', 'x', 'y']);
      expect(await sources('c3')).toEqual(['x', 'y']);
    });

    it('a refused source is stale neither for its later events nor counted twice on replay', async () => {
      const again = await apply([event('c1', 'd', 1, counts(7))]);
      expect(again.refused).toHaveLength(1);
      expect(again.stale).toBe(0);
      expect(await sources('c1')).toEqual(['a', 'b', 'c']);
    });
  });

  describe('SOURCE_ZERO_RETENTION_MS', () => {
    const RETENTION_MS = 60_000;
    const retention = () =>
      new ZeroSourceRetentionService(configServiceOf({ ingest: { zeroSourceRetentionMs: RETENTION_MS } } as AppConfig), new DatabaseService(db.ds), sut, new Clock());
    const age = (userId: string, source: string, ms: number) =>
      db.ds.query(`UPDATE badge_source SET updated_at = now() - $3::bigint * interval '1 millisecond' WHERE user_id = $1 AND source = $2`, [
        userId,
        source,
        ms,
      ]);

    it('drops only sources all zeros for longer than the retention (database clock), leaving the desired badge as it was', async () => {
      await apply([event('r1', 'a', 1, counts(2)), event('r1', 'b', 1, counts(0)), event('r1', 'c', 1, counts(0)), event('r3', 'd', 1, counts(0, 0, 0, 1))]);
      await age('r1', 'a', 2 * RETENTION_MS); // old but not zero
      await age('r1', 'b', 2 * RETENTION_MS); // old and zero
      await age('r3', 'd', 2 * RETENTION_MS); // old, zero but for one field
      await age('r1', 'c', RETENTION_MS / 2); // zero but recent
      const before = await desired('r1');
      const dropped = await retention().runOnce();
      expect(dropped).toBeGreaterThanOrEqual(1);
      expect(await sources('r1')).toEqual(['a', 'c']);
      expect(await sources('r3')).toEqual(['d']);
      expect(await desired('r1')).toEqual(before); // revision included: nothing to push
    });

    it('a dropped zero source frees its place under the cap', async () => {
      await age('c1', 'c', 2 * RETENTION_MS);
      await retention().runOnce();
      const r = await apply([event('c1', 'd', 2, counts(1))]);
      expect(r.refused).toEqual([]);
      expect(await sources('c1')).toEqual(['a', 'b', 'd']);
    });

    it('runs on one replica at a time: a pass finding the lock held drops nothing', async () => {
      await apply([event('r2', 'a', 1, counts(0))]);
      await age('r2', 'a', 2 * RETENTION_MS);
      const other = new Client({ connectionString: db.url });
      await other.connect();
      try {
        await other.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.zeroSourceRetention]);
        expect(await retention().runOnce()).toBeNull();
        expect(await sources('r2')).toEqual(['a']);
      } finally {
        await other.end();
      }
      expect(await retention().runOnce()).toBe(1);
      expect(await sources('r2')).toEqual([]);
    });
  });
});
