import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { AuditRepository, Completion, IngestRepository, ReconcileRepository, StatusCountsRepository } from '@badges/store';
import { StatusCounts1764979200000 } from '../../libs/store/src/migrations/1764979200000-status-counts';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

jest.setTimeout(120_000);

const TENANTS = ['t1', 't2', 't3'];
const STATUSES = ['pending', 'in_sync', 'backing_off', 'parked'] as const;
type Counted = Record<(typeof STATUSES)[number], number> & { total: number };

/**
 * GET /v1/stats reads users per status from the totals and deltas the badge_state triggers keep: after a mixed
 * workload of concurrent writers (ingest batches, reconciler outcomes, resyncs, deletes, folds) they must equal a
 * real count of badge_state, for every tenant and all of them, folded or not.
 */
describe('status counts kept by the badge_state triggers, on the real Postgres', () => {
  let db: TestDatabase;
  let ingest: IngestRepository;
  let reconcile: ReconcileRepository;
  let audit: AuditRepository;
  let fold: StatusCountsRepository;

  beforeAll(async () => {
    db = await createTestDatabase('statuscounts');
    ingest = new IngestRepository(db.ds);
    reconcile = new ReconcileRepository(db.ds);
    audit = new AuditRepository(db.ds);
    fold = new StatusCountsRepository(db.ds);
  });
  afterAll(() => db?.drop());
  beforeEach(async () => {
    await db.ds.query(`TRUNCATE badge_state, badge_source, badge_audit, push_budget`);
    await reconcile.ensureBudget('');
  });

  /** What a scan of badge_state says, of `tenants` or of all. */
  const realCounts = async (tenants: string[] | null = null): Promise<Counted> => {
    const rows: { status: string; n: number }[] = await db.ds.query(
      `SELECT status, count(*)::int AS n FROM badge_state WHERE $1::text[] IS NULL OR tenant_key = ANY($1::text[]) GROUP BY status`,
      [tenants],
    );
    const c = { pending: 0, in_sync: 0, backing_off: 0, parked: 0, total: 0 };
    for (const r of rows) {
      c[r.status as keyof Counted] = r.n;
      c.total += r.n;
    }
    return c;
  };
  const expectExact = async () => {
    expect(await audit.countByStatus()).toEqual(await realCounts());
    for (const t of TENANTS) expect(await audit.countByStatus([t])).toEqual(await realCounts([t]));
    expect(await audit.countByStatus(['t1', 't3'])).toEqual(await realCounts(['t1', 't3']));
  };
  /** Pushes of the last hour by outcome and code as a scan of badge_audit says, against the repository's read. */
  const expectPushesExact = async () => {
    const raw = (tenants: string[] | null) =>
      db.ds.query(
        `SELECT outcome, code, count(*)::int AS n FROM badge_audit
         WHERE kind = 'push' AND at >= now() - interval '1 hour' AND ($1::text[] IS NULL OR tenant_key = ANY($1::text[]))
         GROUP BY 1, 2`,
        [tenants],
      );
    const sorted = (rows: { outcome: string | null; code: number | null; n: number }[]) =>
      [...rows].sort((a, b) => `${a.outcome}/${a.code}`.localeCompare(`${b.outcome}/${b.code}`));
    for (const tenants of [null, ['t1'], ['t2', 't3'], ['nobody']]) {
      expect(sorted(await audit.pushesSince(3600, tenants))).toEqual(sorted(await raw(tenants)));
    }
  };
  const apply = (events: BadgeEvent[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const rand = (n: number) => Math.floor(Math.random() * n);
  const userOf = (n: number) => ({ tenantKey: TENANTS[n % TENANTS.length], userIdType: 'open_id', userId: `ou_${n}` });

  it('equal a real count after concurrent ingest, reconciler outcomes, resyncs, deletes and folds', async () => {
    const USERS = 600;
    let sequence = 0;
    let stop = false;
    // Every writer of several users locks them in key order (test/store/lock-order.test.ts): none is ever a
    // deadlock victim, so a step that fails fails the test.
    const until = async (rounds: number, step: () => Promise<unknown>) => {
      for (let i = 0; i < rounds && !stop; i++) await step();
    };
    // Ingest: three partitions' worth of batches over overlapping users, new users and changes to known ones.
    const ingestWorker = () =>
      until(25, () =>
        apply(
          Array.from({ length: 40 }, () => {
            const u = userOf(rand(USERS));
            return event(u.userId, ['approval', 'task'][rand(2)], ++sequence, counts(rand(5)), { tenantKey: u.tenantKey });
          }),
        ),
      );
    // A reconciler: claims due users and completes each as applied, retried (backing off) or parked.
    let completed = 0;
    const reconciler = async (owner: string) => {
      for (let i = 0; i < 40 && !stop; i++) {
        const claim = await reconcile.claim({ scope: '', tenantFilter: null, owner, limit: 30, leaseMs: 30_000, spacingMs: 1, horizonMs: 60_000, leadMs: 0 });
        const cs: Completion[] = claim.users.map((u) => {
          const kind = (['applied', 'applied', 'retry', 'park'] as const)[rand(4)];
          return {
            tenantKey: u.tenantKey,
            userIdType: u.userIdType,
            userId: u.userId,
            version: u.version,
            kind,
            sent: kind === 'applied' ? { pc: u.desired.pc, mobile: u.desired.mobile } : null,
            forgetPc: false,
            forgetMobile: false,
            delayMs: 0,
            status: kind === 'retry' ? 'backing_off' : kind === 'park' ? 'parked' : 'in_sync',
            attempts: kind === 'retry' ? u.attempts + 1 : 0,
            minVersion: null,
            outcome: kind === 'applied' ? 'applied' : 'failed',
            code: kind === 'applied' ? 0 : 99991400,
            httpStatus: kind === 'applied' ? 200 : 400,
            message: kind === 'applied' ? 'success' : 'test failure',
            logId: 'log',
            latencyMs: 1,
          };
        });
        await until(1, async () => (completed += (await reconcile.complete(owner, cs)).length));
      }
    };
    const resyncs = () => until(60, () => audit.resync(userOf(rand(USERS)), 'test resync'));
    // One user a statement: a row lock at a time, so no deadlock with the writers' ordered locks.
    const deletes = () => until(100, () => db.ds.query(`DELETE FROM badge_state WHERE user_id = $1`, [userOf(rand(USERS)).userId]));
    let folds = 0;
    const folder = async () => {
      while (!stop) folds += (await fold.fold(7200)) > 0 ? 1 : 0;
    };

    const folding = folder();
    // Every writer settles before the test goes on (one failing stops the others: none outlives the test).
    const writers = [ingestWorker(), ingestWorker(), ingestWorker(), reconciler('A'), reconciler('B'), resyncs(), deletes()].map((w) =>
      w.catch((e) => {
        stop = true;
        throw e;
      }),
    );
    const settled = await Promise.allSettled(writers);
    stop = true;
    await folding;
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    // The workload moved users through every status, and the folds ran between the writers.
    const real = await realCounts();
    expect(completed).toBeGreaterThan(100);
    expect(folds).toBeGreaterThan(0);
    for (const s of STATUSES) expect(real[s]).toBeGreaterThan(0);

    await expectExact(); // with deltas pending
    expect((await audit.pushesSince(3600)).reduce((n, p) => n + p.n, 0)).toBeGreaterThan(100);
    await expectPushesExact();
    await db.ds.query(`INSERT INTO badge_status_delta (tenant_key, status, n) SELECT 't1', 'pending', 0`); // an empty delta is harmless
    await fold.fold(7200);
    expect(await db.ds.query(`SELECT count(*)::int AS n FROM badge_status_delta`)).toEqual([{ n: 0 }]);
    await expectExact(); // folded
    await expectPushesExact();
  });

  it('count pushes of the last hour exactly at the window edge, whatever was folded', async () => {
    const push = (ago: string, tenant: string, outcome: string | null, code: number | null) =>
      db.ds.query(
        `INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, outcome, code)
         VALUES (now() - $1::interval, $2, 'open_id', 'ou_p', 'push', $3, $4)`,
        [ago, tenant, outcome, code],
      );
    // Either side of the window's start, in its first minute and the minute before, and in whole minutes after.
    for (const ago of ['2 hours', '61 minutes', '60 minutes 1 second', '59 minutes 50 seconds', '59 minutes 30 seconds', '59 minutes', '30 minutes', '1 second']) {
      await push(ago, 't1', 'applied', 0);
      await push(ago, 't2', 'version_conflict', 213001);
      await push(ago, 't3', null, null);
    }
    // Several rows in one statement (as the reconciler's completion writes them), and rows of other kinds.
    await db.ds.query(
      `INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, outcome, code)
       SELECT now() - g * interval '7 seconds', (ARRAY['t1', 't2', 't3'])[1 + g % 3], 'open_id', 'ou_q', 'push', (ARRAY['applied', 'transient'])[1 + g % 2], NULL
       FROM generate_series(1, 700) g`,
    );
    await db.ds.query(`INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, detail) VALUES ('t1', 'open_id', 'ou_p', 'resync', 'test')`);
    await expectPushesExact();
    await fold.fold(7200);
    await expectPushesExact();
    expect(await audit.pushesSince(3600, ['nobody'])).toEqual([]);
  });

  it('count updates that move many users at once, and tenants that change', async () => {
    await apply(Array.from({ length: 300 }, (_, i) => event(`ou_${i}`, 'approval', i + 1, counts(1), { tenantKey: TENANTS[i % 3] })));
    await db.ds.query(`UPDATE badge_state SET status = 'parked' WHERE user_id LIKE 'ou_1%'`);
    await db.ds.query(`UPDATE badge_state SET status = 'in_sync', tenant_key = 't9' WHERE user_id LIKE 'ou_2%'`);
    await db.ds.query(`UPDATE badge_state SET attempts = attempts + 1`); // no status moves: no delta
    await expectExact();
    expect(await audit.countByStatus(['t9'])).toEqual(await realCounts(['t9']));
  });

  it('start from the rows already there when the migration runs, and TRUNCATE empties them', async () => {
    const migration = new StatusCounts1764979200000();
    const q = db.ds.createQueryRunner();
    try {
      await migration.down(q);
      await db.ds.query(`TRUNCATE badge_state`);
      await apply(Array.from({ length: 90 }, (_, i) => event(`ou_${i}`, 'approval', i + 1, counts(1), { tenantKey: TENANTS[i % 3] })));
      await db.ds.query(`UPDATE badge_state SET status = 'backing_off' WHERE user_id LIKE 'ou_1%'`);
      await q.startTransaction();
      await migration.up(q);
      await q.commitTransaction();
    } finally {
      await q.release();
    }
    expect((await realCounts()).total).toBe(90);
    await expectExact();

    await db.ds.query(`TRUNCATE badge_state`);
    expect(await audit.countByStatus()).toEqual({ pending: 0, in_sync: 0, backing_off: 0, parked: 0, total: 0 });
  });
});
