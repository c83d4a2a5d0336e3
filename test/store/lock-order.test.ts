import { newestPerSource } from '@badges/contracts';
import { Completion, IngestRepository, ModeRepository, ReconcileRepository } from '@badges/store';
import { QueryRunner } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';

jest.setTimeout(60_000);

/**
 * Every statement that writes several users' rows locks them in key order, as ingest does (LOCK_USERS_SQL): two
 * writers that lock the same rows in two orders deadlock, and Postgres then aborts one of them after a second.
 * Each case holds the key-first user's row as an ingest batch would (its first lock), lets the statement run into
 * it, and then takes the key-last user's row the way the batch's next lock would: NOWAIT fails at once if the
 * statement already holds it, which is the deadlock. The key-last user's row lies first in the table, so a
 * statement locking in the table's order (or its join's) takes it first.
 */
describe('writers of several users lock them in key order (no deadlock with ingest)', () => {
  let db: TestDatabase;
  let ingest: IngestRepository;
  let repo: ReconcileRepository;
  let mode: ModeRepository;
  let batch: QueryRunner;

  beforeAll(async () => {
    db = await createTestDatabase('lockorder');
    ingest = new IngestRepository(db.ds);
    repo = new ReconcileRepository(db.ds);
    mode = new ModeRepository(db.ds);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    await db.ds.query(`TRUNCATE badge_state, badge_source, badge_audit, push_budget`);
    await repo.ensureBudget('');
    batch = db.ds.createQueryRunner();
    await batch.connect();
  });
  afterEach(async () => {
    if (batch.isTransactionActive) await batch.rollbackTransaction();
    await batch.release();
  });

  const FIRST = 'ou_a';
  const LAST = 'ou_z';
  /** Two dirty users, the key-last one's row first in the table's physical order. */
  const twoUsers = async () => {
    const { newest, superseded } = newestPerSource([event(LAST, 'approval', 1, counts(3)), event(FIRST, 'approval', 2, counts(4))]);
    await ingest.applyBatch(newest, superseded);
    await firstBehind();
  };
  /** Rewriting FIRST's row moves its live version behind LAST's in the table (done again after every rewrite). */
  const firstBehind = async () => {
    await db.ds.query(`UPDATE badge_state SET updated_at = now() WHERE user_id = $1`, [FIRST]);
    const order = await db.ds.query(`SELECT user_id FROM badge_state ORDER BY ctid`);
    expect(order.map((r: { user_id: string }) => r.user_id)).toEqual([LAST, FIRST]);
  };
  const claimBoth = async () => {
    const c = await repo.claim({ scope: '', tenantFilter: null, owner: 'A', limit: 10, leaseMs: 30_000, spacingMs: 1, horizonMs: 1000, leadMs: 0 });
    expect(c.users.map((u) => u.userId).sort()).toEqual([FIRST, LAST]);
    return c;
  };
  const lockRow = (userId: string, nowait = false) =>
    batch.query(`SELECT 1 FROM badge_state WHERE user_id = $1 FOR UPDATE${nowait ? ' NOWAIT' : ''}`, [userId]);
  /** Runs `statement` while an ingest-like batch holds FIRST's row; the batch then takes LAST's without waiting. */
  const raceWithBatch = async <T>(statement: () => Promise<T>): Promise<T> => {
    await batch.startTransaction();
    await lockRow(FIRST);
    const running = statement();
    running.catch(() => undefined);
    // The statement is blocked on FIRST's row (the batch's own backend is not the waiter).
    const batchPid = (await batch.query(`SELECT pg_backend_pid() AS pid`))[0].pid;
    await waitFor('the statement to wait on the batch\'s lock', async () => {
      const rows = await db.ds.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND pid <> $1 AND locktype IN ('tuple', 'transactionid')`, [batchPid]);
      return rows[0].n > 0;
    }, 10_000, 20);
    await expect(lockRow(LAST, true)).resolves.toHaveLength(1);
    await batch.commitTransaction();
    return running;
  };

  it('a completion of several users (COMPLETE_SQL)', async () => {
    await twoUsers();
    const claim = await claimBoth();
    await firstBehind();
    const done = (userId: string): Completion => {
      const u = claim.users.find((x) => x.userId === userId)!;
      return {
        tenantKey: u.tenantKey, userIdType: u.userIdType, userId: u.userId, version: u.version, kind: 'applied',
        sent: { pc: u.desired.pc, mobile: u.desired.mobile }, forgetPc: false, forgetMobile: false, delayMs: 0,
        status: 'in_sync', attempts: 0, minVersion: null, outcome: 'applied', code: 0, httpStatus: 200,
        message: 'success', logId: 'log', latencyMs: 1,
      };
    };
    const written = await raceWithBatch(() => repo.complete('A', [done(LAST), done(FIRST)]));
    expect(written.map((w) => w.userId).sort()).toEqual([FIRST, LAST]);
    const rows = await db.ds.query(`SELECT user_id, status FROM badge_state ORDER BY user_id`);
    expect(rows).toEqual([{ user_id: FIRST, status: 'in_sync' }, { user_id: LAST, status: 'in_sync' }]);
  });

  it('giving up a replica\'s leases at shutdown (RELEASE_LEASES_SQL)', async () => {
    await twoUsers();
    await claimBoth();
    await firstBehind();
    await expect(raceWithBatch(() => repo.releaseLeases('A'))).resolves.toBe(2);
    expect(await db.ds.query(`SELECT count(*)::int AS n FROM badge_state WHERE lease_owner IS NOT NULL`)).toEqual([{ n: 0 }]);
  });

  it('the switch from shadow to live (SHADOW_TO_LIVE_SQL)', async () => {
    await mode.enter('shadow');
    await twoUsers();
    await expect(raceWithBatch(() => mode.enter('live'))).resolves.toEqual({ was: 'shadow', reset: 2 });
    expect(await db.ds.query(`SELECT count(*)::int AS n FROM badge_state WHERE force_full`)).toEqual([{ n: 2 }]);
  });
});
