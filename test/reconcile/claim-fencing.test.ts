import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { AuditRepository, Claim, Completion, IngestRepository, LANES, ReconcileRepository } from '@badges/store';
import { decide, DecisionPolicy, MAX_VERSION } from '../../apps/badge-service/src/reconcile/push-decision';
import { planPush } from '../../apps/badge-service/src/reconcile/push-plan';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

jest.setTimeout(60_000);

/**
 * The claim / complete / resync statements on the real Postgres, driven step by step through interleavings a
 * review found wrong: a lease taken over after a push that was applied but never recorded, an operator's resync
 * of a leased user, versions at the 64-bit limit, tenants hidden behind another's backlog, drift repair bursts.
 */
describe('claims and completions at the edges, on the real Postgres', () => {
  let db: TestDatabase;
  let ingest: IngestRepository;
  let repo: ReconcileRepository;
  let audit: AuditRepository;
  const policy: DecisionPolicy = { minIntervalMs: 0, conflictRetryMs: 0, backoffBaseMs: 0, backoffMaxMs: 0 };
  const LEASE = 30_000;

  beforeAll(async () => {
    db = await createTestDatabase('fencing');
    ingest = new IngestRepository(db.ds);
    repo = new ReconcileRepository(db.ds);
    audit = new AuditRepository(db.ds);
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
  const claim = (owner: string, scope = '', tenantFilter: string | null = null, limit = 10): Promise<Claim> =>
    repo.claim({ scope, tenantFilter, owner, limit, leaseMs: LEASE, spacingMs: 1, horizonMs: 1000, leadMs: 0 });
  /** Time passes for the stored rows: due times, leases and slots move into the past by `ms`. */
  const elapse = async (ms: number) => {
    await db.ds.query(
      `UPDATE badge_state SET next_attempt_at = next_attempt_at - $1 * interval '1 millisecond',
                              lease_expires_at = lease_expires_at - $1 * interval '1 millisecond'`,
      [ms],
    );
    await db.ds.query(`UPDATE push_budget SET next_slot_at = next_slot_at - $1 * interval '1 millisecond'`, [ms]);
  };
  const answer = (outcome: 'applied' | 'version_conflict', msg: string) => ({
    outcome,
    code: outcome === 'applied' ? 0 : 213001,
    httpStatus: outcome === 'applied' ? 200 : 400,
    msg,
    logId: 'log',
    latencyMs: 1,
    tokenRefreshed: false,
    ...latest(msg),
  });
  const applied = (c: Claim, userId: string): Completion => {
    const u = c.users.find((x) => x.userId === userId)!;
    return decide(u, planPush(u.desired, u.applied, u.forceFull)!, answer('applied', 'success'), policy, () => 0.5);
  };
  const conflict = (c: Claim, userId: string, msg: string): Completion => {
    const u = c.users.find((x) => x.userId === userId)!;
    return decide(u, planPush(u.desired, u.applied, u.forceFull)!, answer('version_conflict', msg), policy, () => 0.5);
  };
  function latest(msg: string) {
    const m = /latest version: (\d+)/.exec(msg);
    return m ? { latestVersion: m[1] } : {};
  }
  const row = async (userId: string) => (await db.ds.query(`SELECT * FROM badge_state WHERE user_id = $1`, [userId]))[0];

  it('a lease taken over leaves both sides unknown: the push its holder may have applied is sent again', async () => {
    await apply([event('ou_a', 'approval', 1, counts(0))]);
    const first = await claim('A');
    await repo.complete('A', [applied(first, 'ou_a')]); // Feishu shows 0, recorded
    await apply([event('ou_a', 'approval', 2, counts(1))]);
    await elapse(10_000);
    const second = await claim('A'); // A sends 0→1, Feishu applies it, and A dies before recording it
    expect(second.users.map((u) => u.userId)).toEqual(['ou_a']);
    await apply([event('ou_a', 'approval', 3, counts(0))]); // the count goes back to 0
    await elapse(LEASE + 1);
    const takeover = await claim('B');
    const u = takeover.users.find((x) => x.userId === 'ou_a')!;
    expect(u.leaseTakenOver).toBe(true);
    expect(u.applied).toEqual({ pc: null, mobile: null });
    // Desired 0 against a recorded 0 would push nothing and call it in sync while Feishu shows 1.
    expect(planPush(u.desired, u.applied, u.forceFull)).toEqual({ pc: { web_app: 0, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } });
    // The lost attempt shows in the user's history, with the version its holder had.
    const lost = await db.ds.query(`SELECT version::text, outcome, detail FROM badge_audit WHERE kind = 'push' AND user_id = 'ou_a' AND outcome = 'unknown'`);
    expect(lost).toEqual([{ version: second.users[0].version, outcome: 'unknown', detail: expect.stringMatching(/lease of A expired/) }]);
  });

  it('leases given back at shutdown leave their sides unknown (their pushes may have been applied)', async () => {
    await apply([event('ou_b', 'approval', 1, counts(0))]);
    await repo.complete('A', [applied(await claim('A'), 'ou_b')]);
    await apply([event('ou_b', 'approval', 2, counts(4))]);
    await elapse(10_000);
    await claim('A');
    expect(await repo.releaseLeases('A')).toBe(1);
    const r = await row('ou_b');
    expect([r.lease_owner, r.applied_pc_web_app, r.applied_mobile_web_app]).toEqual([null, null, null]);
  });

  it("an operator's resync never hands a leased user to a second replica; the full re-push follows the first", async () => {
    await apply([event('ou_c', 'approval', 1, counts(2))]);
    const a = await claim('A');
    expect(a.users).toHaveLength(1);
    const resynced = await audit.resync({ tenantKey: '', userIdType: 'open_id', userId: 'ou_c' }, 'resync by test');
    expect(resynced).not.toBeNull();
    expect((await claim('B')).users).toHaveLength(0); // two pushes of one user at Feishu at once: 213004
    await repo.complete('A', [applied(a, 'ou_c')]);
    const after = await row('ou_c');
    expect([after.status, after.force_full, after.lease_owner]).toEqual(['pending', true, null]);
    const b = await claim('B');
    expect(b.users.map((u) => [u.userId, u.forceFull])).toEqual([['ou_c', true]]);
  });

  it("an operator's resync during a push that then fails is not made to wait out the backoff", async () => {
    await apply([event('ou_r', 'approval', 1, counts(2))]);
    const a = await claim('A');
    await audit.resync({ tenantKey: '', userIdType: 'open_id', userId: 'ou_r' }, 'resync by test');
    const u = a.users[0];
    const slow: DecisionPolicy = { ...policy, backoffBaseMs: 60_000, backoffMaxMs: 60_000 };
    const failed = decide(u, planPush(u.desired, u.applied, u.forceFull)!, { ...answer('applied', 'boom'), outcome: 'transient', code: null, httpStatus: 503 }, slow, () => 0.99);
    expect(failed.delayMs).toBeGreaterThan(30_000);
    await repo.complete('A', [failed]);
    const r = await row('ou_r');
    expect([r.status, r.attempts, r.force_full]).toEqual(['pending', 0, true]);
    expect((await claim('B')).users.map((x) => x.userId)).toEqual(['ou_r']); // due now, not in a minute
  });

  it('a "latest version" at the 64-bit maximum parks that user alone, with the reason; everyone else is still claimed', async () => {
    await apply([event('ou_max', 'approval', 1, counts(1)), event('ou_other', 'approval', 1, counts(1))]);
    const c = await claim('A');
    await repo.complete('A', [conflict(c, 'ou_max', `pc version conflict, latest version: ${MAX_VERSION}`), conflict(c, 'ou_other', 'pc version conflict')]);
    await elapse(10_000);
    const next = await claim('A'); // used to fail: bigint out of range, for every user of the scope
    expect(next.users.map((u) => u.userId)).toEqual(['ou_other']);
    const parked = await row('ou_max');
    expect(parked.status).toBe('parked');
    expect(parked.last_error_message).toMatch(/9223372036854775807/);
    // A new count un-parks it, and the claim parks it again rather than failing or pushing.
    await apply([event('ou_max', 'approval', 2, counts(5))]);
    await elapse(10_000);
    expect((await claim('A')).users.map((u) => u.userId)).not.toContain('ou_max');
    expect((await row('ou_max')).status).toBe('parked');
  });

  it('a 20-digit "latest version" does not break the completion of the rest of its batch', async () => {
    await apply([event('ou_huge', 'approval', 1, counts(1)), event('ou_fine', 'approval', 1, counts(3))]);
    const c = await claim('A');
    const written = await repo.complete('A', [conflict(c, 'ou_huge', 'pc version conflict, latest version: 98765432109876543210'), applied(c, 'ou_fine')]);
    expect(written.map((w) => w.userId).sort()).toEqual(['ou_fine', 'ou_huge']);
    expect((await row('ou_fine')).applied_pc_web_app).toBe(3);
    expect((await row('ou_huge')).last_version).toBe(MAX_VERSION.toString());
    const pushes = await db.ds.query(`SELECT user_id FROM badge_audit WHERE kind = 'push' ORDER BY user_id`);
    expect(pushes.map((p: { user_id: string }) => p.user_id)).toEqual(['ou_fine', 'ou_huge']);
  });

  it('a conflict without a hint passes a writer far ahead (a nanosecond clock) within 64 attempts', async () => {
    await apply([event('ou_ns', 'approval', 1, counts(1))]);
    const feishuVersion = 1_764_115_200_000_000_000n; // another writer's nanosecond-clock version
    let attempts = 0;
    for (; attempts < 64; attempts++) {
      await elapse(10_000);
      const c = await claim('A');
      const u = c.users[0];
      if (BigInt(u.version) > feishuVersion) break;
      await repo.complete('A', [conflict(c, 'ou_ns', 'pc version conflict')]);
    }
    expect(attempts).toBeLessThan(64);
  });

  it('lists every tenant with due work, even behind another tenant with 100,000 due users', async () => {
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_revision, next_attempt_at)
      SELECT 'tenant_big', 'open_id', 'ou_' || g, 1, 1, now() - interval '1 hour' + g * interval '1 millisecond'
      FROM generate_series(1, 100000) g`);
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_revision, next_attempt_at)
      VALUES ('tenant_small', 'open_id', 'ou_1', 1, 1, now())`);
    await db.ds.query(`ANALYZE badge_state`);
    expect((await repo.dueScopes(1000)).sort()).toEqual(['tenant_big', 'tenant_small']);
    // Round robin: the tenant after the one served last comes first, wrapping round.
    expect(await repo.dueScopes(1000, 'tenant_big')).toEqual(['tenant_small', 'tenant_big']);
    expect(await repo.dueScopes(1, 'tenant_small')).toEqual(['tenant_big']);
    await repo.ensureBudget('tenant_small');
    const small = await claim('A', 'tenant_small', 'tenant_small');
    expect(small.users.map((u) => u.userId)).toEqual(['ou_1']);
  });

  it('drift repair spreads the users it marks over time instead of making them all due at once', async () => {
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_revision, pushed_revision, status, last_pushed_at)
      SELECT '', 'open_id', 'ou_' || g, 1, 1, 'in_sync', now() - interval '2 days' FROM generate_series(1, 100) g`);
    expect(await repo.markForResync(86_400_000, 100, 200)).toBe(100); // 5 per second
    const [due] = await db.ds.query(`
      SELECT count(*) FILTER (WHERE next_attempt_at <= clock_timestamp())::int AS now,
             count(*) FILTER (WHERE next_attempt_at <= clock_timestamp() + interval '1 second')::int AS within_1s,
             (extract(epoch FROM max(next_attempt_at) - min(next_attempt_at)) * 1000)::int AS spread_ms
      FROM badge_state WHERE desired_revision > pushed_revision`);
    expect(due.now).toBeLessThanOrEqual(1);
    expect(due.within_1s).toBeLessThanOrEqual(6);
    expect(due.spread_ms).toBe(99 * 200);
  });

  it('drift repair takes a spacing that is not a whole number of milliseconds (a share of 30/s)', async () => {
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_revision, pushed_revision, status, last_pushed_at)
      SELECT '', 'open_id', 'ou_' || g, 1, 1, 'in_sync', now() - interval '2 days' FROM generate_series(1, 10) g`);
    expect(await repo.markForResync(86_400_000, 10, 1000 / 3)).toBe(10); // used to fail: invalid input syntax for type bigint
    const [{ spread_ms }] = await db.ds.query(`
      SELECT (extract(epoch FROM max(next_attempt_at) - min(next_attempt_at)) * 1000)::int AS spread_ms FROM badge_state`);
    expect(spread_ms).toBe(3000);
  });

  it('slots and budget waits come back in the caller clock, whatever its skew from the database', async () => {
    await apply([event('ou_skew', 'approval', 1, counts(1))]);
    const skew = 2_000;
    const c = await repo.claim({ scope: '', tenantFilter: null, owner: 'A', limit: 1, leaseMs: LEASE, spacingMs: 20, horizonMs: 1000, leadMs: 25, now: () => Date.now() + skew });
    expect(c.users).toHaveLength(1);
    expect(c.clockOffsetMs).toBeGreaterThan(-skew - 200);
    expect(c.clockOffsetMs).toBeLessThan(-skew + 200);
    // The first slot is ~25 ms ahead in the caller's clock, not 2 s in its past.
    const ahead = c.firstSlotAt - (Date.now() + skew);
    expect(ahead).toBeGreaterThan(-100);
    expect(ahead).toBeLessThan(200);
  });

  it("a claim that waited for another replica's hold on the budget still reserves its first slot ahead, not in the past", async () => {
    await apply([event('ou_wait', 'approval', 1, counts(1))]);
    // Another replica's claim holds the budget row and ends without advancing it (it found nothing to claim).
    const holder = db.ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query(`SELECT * FROM push_budget WHERE scope = '' FOR UPDATE`);
    const pending = repo.claim({ scope: '', tenantFilter: null, owner: 'A', limit: 1, leaseMs: LEASE, spacingMs: 20, horizonMs: 1000, leadMs: 25 });
    // The claim is waiting on the row lock (pg_locks shows its backend waiting) before the holder lets go.
    const waiting = async () => (await db.ds.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`))[0].n > 0;
    for (let i = 0; !(await waiting()); i++) {
      if (i > 500) throw new Error('the claim never waited on the budget row');
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300)); // the hold lasts: this is the wait the claim must not count as the future
    const releasedAt = Date.now();
    await holder.rollbackTransaction();
    await holder.release();
    const c = await pending;
    expect(c.users.map((u) => u.userId)).toEqual(['ou_wait']);
    // The slot is read after the wait: at least the lead past the release (a little clock tolerance), not 300 ms before it.
    expect(c.firstSlotAt).toBeGreaterThan(releasedAt + 25 - 10);
  });

  it("a retry's slot (reserveSlot) is a time in the database's clock, after the slots already claimed", async () => {
    await apply([event('ou_r1', 'approval', 1, counts(1))]);
    const c = await repo.claim({ scope: '', tenantFilter: null, owner: 'A', limit: 1, leaseMs: LEASE, spacingMs: 20, horizonMs: 1000, leadMs: 25 });
    const at = (await repo.reserveSlot('', 'A', { spacingMs: 20 }, 25))?.atMs;
    expect(typeof at).toBe('number');
    expect(at).toBeCloseTo(c.db.firstSlotAt + 20, 2);
    expect((await repo.reserveSlot('', 'A', { spacingMs: 20 }, 25))?.atMs).toBeCloseTo(at! + 20, 2);
  });

  it('a scope without a budget row claims no one: the claim fails before any lease is taken', async () => {
    await apply([event('ou_nb1', 'approval', 1, counts(1)), event('ou_nb2', 'approval', 1, counts(2))]);
    await db.ds.query(`UPDATE badge_state SET lane = $1 WHERE user_id = 'ou_nb2'`, [LANES.bulk]);
    await db.ds.query(`TRUNCATE push_budget`); // e.g. an operator's cleanup under running replicas

    await expect(claim('A')).rejects.toThrow(/push budget for scope '' is missing/);
    expect((await db.ds.query(`SELECT count(*)::int AS n FROM badge_state WHERE lease_owner IS NOT NULL`))[0].n).toBe(0);
  });

  it('a switch of mode committed while a claim waited for the budget row is seen by that claim', async () => {
    await apply([event('ou_m1', 'approval', 1, counts(1)), event('ou_m2', 'approval', 1, counts(2))]);
    await db.ds.query(`UPDATE service_mode SET mode = 'shadow' WHERE id = 1`);
    try {
      const holder = db.ds.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      await holder.query(`SELECT * FROM push_budget WHERE scope = '' FOR UPDATE`);
      // A replica still in shadow mode claims, and waits for the budget row.
      const pending = repo.claim({ scope: '', tenantFilter: null, owner: 'S', limit: 10, leaseMs: LEASE, spacingMs: 1, horizonMs: 1000, leadMs: 0, mode: 'shadow' });
      const waiting = async () => (await db.ds.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`))[0].n > 0;
      for (let i = 0; !(await waiting()); i++) {
        if (i > 500) throw new Error('the claim never waited on the budget row');
        await new Promise((r) => setImmediate(r));
      }
      // Meanwhile the deployment switches to live (ModeRepository's switch does not touch the budget).
      await db.ds.query(`UPDATE service_mode SET mode = 'live' WHERE id = 1`);
      await holder.rollbackTransaction();
      await holder.release();
      const c = await pending;
      expect(c.users).toEqual([]);
      expect((await db.ds.query(`SELECT count(*)::int AS n FROM badge_state WHERE lease_owner IS NOT NULL`))[0].n).toBe(0);
    } finally {
      await db.ds.query(`UPDATE service_mode SET mode = 'live' WHERE id = 1`);
    }
  });

  it('claims the oldest due first within a lane, and gives them the earlier slots', async () => {
    await apply(['ou_o1', 'ou_o2', 'ou_o3', 'ou_o4', 'ou_o5'].map((u) => event(u, 'approval', 1, counts(1))));
    // Due times in the reverse of the keys' order (and of insertion).
    await db.ds.query(`UPDATE badge_state SET next_attempt_at = now() - right(user_id, 1)::int * interval '1 second'`);
    const c = await claim('A');
    expect(c.users.map((u) => u.userId)).toEqual(['ou_o5', 'ou_o4', 'ou_o3', 'ou_o2', 'ou_o1']);
  });

  it('a slow rate still claims: a slot spaced wider than the horizon (1/s) or the bulk horizon (10/s) fits one', async () => {
    await apply([event('ou_slow', 'approval', 1, counts(1))]);
    // FEISHU_RATE_LIMIT=1 at the loop's headroom: slots 1,015 ms apart, a 1,000 ms horizon, a 25 ms lead.
    const slow = (spacingMs: number) =>
      repo.claim({ scope: '', tenantFilter: null, owner: 'A', limit: 10, leaseMs: LEASE, spacingMs, horizonMs: 1000, bulkHorizonMs: 60, leadMs: 25 });
    const live = await slow(1000 / 0.985);
    expect(live.users.map((u) => u.userId)).toEqual(['ou_slow']);
    expect(live.budgetFreeAt).toBeNull();
    // Bulk work at 10/s: slots 101.5 ms apart, wider than the 60 ms bulk horizon.
    await db.ds.query(`TRUNCATE badge_state, badge_source, push_budget`);
    await repo.ensureBudget('');
    await apply([event('ou_bulk', 'approval', 1, counts(1))]);
    await db.ds.query(`UPDATE badge_state SET lane = $1`, [LANES.bulk]);
    const bulk = await slow(1000 / 10 / 0.985);
    expect(bulk.users.map((u) => u.userId)).toEqual(['ou_bulk']);
  });
});
