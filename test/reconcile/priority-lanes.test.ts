import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { AuditRepository, Claim, IngestRepository, LANES, ModeRepository, ReconcileRepository } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

jest.setTimeout(60_000);

/**
 * Priority lanes on the real Postgres: live work (changes from events) is always claimed first; bulk work
 * (producers' `badge-priority: bulk`, drift repair, the switch from shadow to live) takes only what live work
 * leaves, and never reserves push slots further ahead than the bulk horizon, so a live change waits behind at
 * most that much bulk work however large the backlog. A user with both kinds of work is live.
 */
describe('priority lanes, on the real Postgres', () => {
  let db: TestDatabase;
  let ingest: IngestRepository;
  let repo: ReconcileRepository;
  const SPACING = 20; // 50 pushes/s
  const BULK_HORIZON = 60;

  beforeAll(async () => {
    db = await createTestDatabase('lanes');
    ingest = new IngestRepository(db.ds);
    repo = new ReconcileRepository(db.ds);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    await db.ds.query(`TRUNCATE badge_state, badge_source, badge_audit, push_budget`);
    await repo.ensureBudget('');
  });

  const apply = (events: BadgeEvent[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const bulk = (userId: string, seq = 1, n = 1) => event(userId, 'snapshot', seq, counts(n), { bulk: true });
  const live = (userId: string, seq = 1, n = 1) => event(userId, 'inbox', seq, counts(n));
  /** `lanes: false` claims as a caller that knows no lanes (no bulk horizon). */
  const claim = (limit = 50, lanes = true, spacingMs = SPACING, bulkHorizonMs = BULK_HORIZON): Promise<Claim> =>
    repo.claim({ scope: '', tenantFilter: null, owner: 'r1', limit, leaseMs: 30_000, spacingMs, horizonMs: 1000, leadMs: 0, ...(lanes ? { bulkHorizonMs } : {}) });
  const lane = async (userId: string) => (await db.ds.query(`SELECT lane FROM badge_state WHERE user_id = $1`, [userId]))[0].lane;
  /** Stored times move into the past by `ms` (due times and the budget's next slot). */
  const elapse = async (ms: number) => {
    await db.ds.query(`UPDATE badge_state SET next_attempt_at = next_attempt_at - $1 * interval '1 millisecond'`, [ms]);
    await db.ds.query(`UPDATE push_budget SET next_slot_at = next_slot_at - $1 * interval '1 millisecond'`, [ms]);
  };

  it('claims a live change before any of 2,000 older bulk users, and gives bulk only the slots of its short horizon', async () => {
    await apply(Array.from({ length: 2000 }, (_, i) => bulk(`ou_bulk${i}`)));
    await elapse(60_000); // the bulk backlog has been due for a minute
    await apply([live('ou_live')]);
    const c = await claim();
    expect(c.users[0].userId).toBe('ou_live');
    const bulkClaimed = c.users.slice(1);
    expect(bulkClaimed.length).toBeGreaterThan(0);
    expect(bulkClaimed.length).toBeLessThanOrEqual(Math.ceil(BULK_HORIZON / SPACING));
    expect(bulkClaimed.every((u) => u.userId.startsWith('ou_bulk'))).toBe(true);
    // The budget was advanced by what was claimed only: bulk reserved nothing beyond its horizon.
    const [{ ahead }] = await db.ds.query(`SELECT extract(epoch FROM next_slot_at - clock_timestamp()) * 1000 AS ahead FROM push_budget`);
    expect(Number(ahead)).toBeLessThanOrEqual(BULK_HORIZON + SPACING);
  });

  it('gives bulk work nothing while live work fills the claim', async () => {
    await apply(Array.from({ length: 100 }, (_, i) => bulk(`ou_bulk${i}`)));
    await elapse(60_000);
    await apply(Array.from({ length: 30 }, (_, i) => live(`ou_live${i}`)));
    const c = await claim(30);
    expect(c.users).toHaveLength(30);
    expect(c.users.every((u) => u.userId.startsWith('ou_live'))).toBe(true);
  });

  it('holds bulk work back until half its horizon is free, and says when that is', async () => {
    // 10 pushes/s, a bulk horizon of 1 s: a claim takes 10 slots, the next one waits until 5 are free again.
    await apply(Array.from({ length: 100 }, (_, i) => bulk(`ou_bulk${i}`)));
    const first = await claim(50, true, 100, 1000);
    expect(first.users).toHaveLength(10);
    await elapse(300); // 3 slots free: not enough
    const second = await claim(50, true, 100, 1000);
    expect(second.users).toHaveLength(0);
    const freeIn = second.db.budgetFreeAt! - Number((await db.ds.query(`SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now`))[0].now);
    expect(freeIn).toBeGreaterThan(100);
    expect(freeIn).toBeLessThanOrEqual(200);
    await elapse(300); // 6 free
    expect((await claim(50, true, 100, 1000)).users).toHaveLength(6);
    // Without a bulk horizon (a caller that knows no lanes), bulk work is claimed like live work: any free slot.
    await elapse(300);
    expect((await claim(50, false, 100, 1000)).users).toHaveLength(3);
  });

  it('makes a user with both kinds of work live, whichever came first', async () => {
    await apply([bulk('ou_a'), live('ou_b')]);
    expect([await lane('ou_a'), await lane('ou_b')]).toEqual([LANES.bulk, LANES.live]);
    await apply([live('ou_a', 2, 2), bulk('ou_b', 2, 2)]);
    expect([await lane('ou_a'), await lane('ou_b')]).toEqual([LANES.live, LANES.live]);
    // One batch with both for one user: live.
    await apply([event('ou_c', 'snapshot', 1, counts(1), { bulk: true }), event('ou_c', 'inbox', 1, counts(1))]);
    expect(await lane('ou_c')).toBe(LANES.live);
  });

  it('puts drift repair and the switch from shadow to live in the bulk lane, but leaves pending live work live', async () => {
    await apply([live('ou_synced'), live('ou_pending')]);
    await db.ds.query(`UPDATE badge_state SET pushed_revision = desired_revision, status = 'in_sync', last_pushed_at = now() - interval '2 days' WHERE user_id = 'ou_synced'`);
    expect(await repo.markForResync(24 * 3600 * 1000, 10)).toBe(1);
    expect([await lane('ou_synced'), await lane('ou_pending')]).toEqual([LANES.bulk, LANES.live]);

    await db.ds.query(`UPDATE badge_state SET pushed_revision = desired_revision, status = 'in_sync' WHERE user_id = 'ou_synced'`);
    const modes = new ModeRepository(db.ds);
    await modes.enter('shadow');
    expect(await modes.enter('live')).toEqual({ was: 'shadow', reset: 2 });
    expect([await lane('ou_synced'), await lane('ou_pending')]).toEqual([LANES.bulk, LANES.live]);
  });

  it("an operator's resync of one user is live work", async () => {
    await apply([bulk('ou_op')]);
    await new AuditRepository(db.ds).resync({ tenantKey: '', userIdType: 'open_id', userId: 'ou_op' }, 'operator');
    expect(await lane('ou_op')).toBe(LANES.live);
  });
});
