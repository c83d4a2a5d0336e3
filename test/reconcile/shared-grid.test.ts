import fc from 'fast-check';
import { newestPerSource } from '@badges/contracts';
import { IngestRepository, ReconcileRepository } from '@badges/store';
import { RECONCILE } from '../../apps/badge-service/src/reconcile/reconcile.constants';
import { slotGrid } from '../../apps/badge-service/src/reconcile/slot-grid';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

jest.setTimeout(120_000);

const L = 40;
const GRID = slotGrid(L);
const SHARED = GRID.shared!;
const J = RECONCILE.sharedJitterMs;
const LEAD = RECONCILE.slotLeadMs;

interface Slot {
  at: number;
  owner: string;
  /** Claimed while the budget counted as one owner's (Claim.shared false): its owner may send it late. */
  alone: boolean;
}

/**
 * The slot grid on the real Postgres, as several replicas share one budget: tight while one owner pushes on it
 * (its SendWindow keeps the count), at the shared spacing while several do, and a window's gap when an owner joins
 * a budget another has been pushing on alone, so no one-second window at Feishu can take more than
 * FEISHU_RATE_LIMIT unless a push arrives sharedJitterMs later than the push FEISHU_RATE_LIMIT slots after it.
 */
describe('the shared slot grid, on the real Postgres', () => {
  let db: TestDatabase;
  let repo: ReconcileRepository;
  /** How far the test has moved stored times into the past: a slot's time in the test's timeline is db + shift. */
  let shift = 0;

  beforeAll(async () => {
    db = await createTestDatabase('grid');
    repo = new ReconcileRepository(db.ds);
    const ingest = new IngestRepository(db.ds);
    const { newest, superseded } = newestPerSource(Array.from({ length: 4000 }, (_, i) => event(`ou_g${i}`, 'inbox', 1, counts(1))));
    await ingest.applyBatch(newest, superseded);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    // Every user due and unleased again (nothing is ever completed here), a budget never used.
    await db.ds.query(`UPDATE badge_state SET lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, next_attempt_at = now() - interval '1 hour'`);
    await db.ds.query(`TRUNCATE push_budget`);
    await repo.ensureBudget('');
    shift = 0;
  });

  const claim = async (owner: string, limit: number): Promise<Slot[]> => {
    const c = await repo.claim({ scope: '', tenantFilter: null, owner, limit, leaseMs: 600_000, ...GRID, horizonMs: RECONCILE.slotHorizonMs, leadMs: LEAD });
    return c.users.map((_, i) => ({ at: c.db.firstSlotAt + i * c.spacingMs + shift, owner, alone: !c.shared }));
  };
  const retrySlot = async (owner: string): Promise<Slot | null> => {
    const r = await repo.reserveSlot('', owner, GRID, LEAD);
    return r === null ? null : { at: r.atMs + shift, owner, alone: !r.shared };
  };
  /** Stored times move `ms` into the past: as if that long went by. */
  const elapse = async (ms: number) => {
    const by = `$1 * interval '1 millisecond'`;
    await db.ds.query(`UPDATE push_budget SET next_slot_at = next_slot_at - ${by}, paused_until = paused_until - ${by}, shared_until = shared_until - ${by}, alone_until = alone_until - ${by}, unused_at = unused_at - ${by}`, [ms]);
    shift += ms;
  };
  const gaps = (slots: Slot[]) => slots.slice(1).map((s, i) => s.at - slots[i].at);

  const dueNone = () => db.ds.query(`UPDATE badge_state SET next_attempt_at = now() + interval '1 hour' WHERE lease_owner IS NULL`);
  const dueAll = () => db.ds.query(`UPDATE badge_state SET next_attempt_at = now() - interval '1 hour' WHERE lease_owner IS NULL`);
  const last = (slots: Slot[]) => slots[slots.length - 1].at;

  const sharedNow = async (): Promise<boolean> => (await db.ds.query(`SELECT shared_until > clock_timestamp() AS shared FROM push_budget`))[0].shared;

  it('spaces one owner tight; a second one, held back behind it while it leaves slots unused, joins a window after its lone slots, both then shared', async () => {
    const a1 = await claim('A', 20);
    await elapse(1200); // A did not claim again in time: its grid ran dry 700 ms ago
    const a2 = await claim('A', 10); // (its first slot is past the grid's next one: slots went unused)
    expect(a1.every((s) => s.alone) && a2.every((s) => s.alone)).toBe(true);
    for (const g of [...gaps(a1), ...gaps(a2)]) expect(g).toBeCloseTo(GRID.spacingMs, 2);
    const aloneEnd = last(a2) + GRID.spacingMs;

    // B's first slot would be past its horizon: it claims nothing, but with work due it marks the budget shared...
    expect(await claim('B', 5)).toHaveLength(0);
    expect(await sharedNow()).toBe(true);
    // ...so A's next slots are spaced for sharing, no longer alone (A may not send them late), right after its run.
    const a3 = await claim('A', 5);
    expect(a3.every((s) => !s.alone)).toBe(true);
    expect(a3[0].at).toBeCloseTo(aloneEnd, 2);
    for (const g of gaps(a3)) expect(g).toBeCloseTo(SHARED.spacingMs, 2);

    await elapse(1200); // the gap's end is within B's horizon now
    const b = await claim('B', 5);
    expect(b.length).toBe(5);
    expect(b[0].at).toBeCloseTo(aloneEnd + SHARED.joinGapMs, 2);
    expect(b.every((s) => !s.alone)).toBe(true);
    for (const g of gaps(b)) expect(g).toBeCloseTo(SHARED.spacingMs, 2);
    // A then follows B at once: the gap is only after slots reserved alone.
    const a4 = await claim('A', 5);
    expect(a4[0].at).toBeCloseTo(last(b) + SHARED.spacingMs, 2);
    expect(a4.every((s) => !s.alone)).toBe(true);
  });

  it('an owner held back behind one that keeps up alone stands by, however little of the horizon that one holds', async () => {
    // A keeps a few hundred ms ahead (not the whole horizon) and never lets its grid run dry.
    const a: Slot[] = [];
    for (let i = 0; i < 8; i++) {
      a.push(...(await claim('A', 10)));
      await elapse(150);
    }
    expect(await claim('B', 5)).toHaveLength(0);
    expect(await sharedNow()).toBe(false);
    a.push(...(await claim('A', 10)));
    expect(a.every((s) => s.alone)).toBe(true);
    for (const g of gaps(a)) expect(g).toBeCloseTo(GRID.spacingMs, 2);
  });

  it('an owner held back with nothing due, or only users leased to another, leaves the one pushing alone as it was', async () => {
    await claim('A', 5);
    await elapse(500);
    const a1 = await claim('A', 35); // A left slots unused: a join would be wanted if work were due
    await dueNone();
    expect(await claim('B', 5)).toHaveLength(0);
    expect(await sharedNow()).toBe(false);
    // Due (an operator's resync) but leased to a replica still pushing them: not B's to take.
    await db.ds.query(`UPDATE badge_state SET lease_owner = 'X', lease_expires_at = now() + interval '1 hour', next_attempt_at = now() - interval '1 second' WHERE lease_owner IS NULL`);
    expect(await claim('B', 5)).toHaveLength(0);
    expect(await sharedNow()).toBe(false);
    await db.ds.query(`UPDATE badge_state SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = 'X'`);
    await dueAll();
    const a2 = await claim('A', 5);
    expect(a2.every((s) => s.alone)).toBe(true);
    expect(a2[0].at).toBeCloseTo(last(a1) + GRID.spacingMs, 2);
    for (const g of gaps(a2)) expect(g).toBeCloseTo(GRID.spacingMs, 2);
  });

  it('is alone again once the other owner has had no slot for the memory; a retry held back by the gap takes no slot', async () => {
    await claim('A', 5);
    await elapse(5000); // A's slots are long past: B starts alone, tight, without a gap
    const b0 = await claim('B', 5);
    expect(b0.every((s) => s.alone)).toBe(true);
    await elapse(600);
    const b1 = await claim('B', 5); // B let its grid run dry: slots went unused
    expect(b1.every((s) => s.alone)).toBe(true);
    for (const g of gaps(b1)) expect(g).toBeCloseTo(GRID.spacingMs, 2);
    expect(await claim('A', 5)).toHaveLength(0); // held back by B's run, with work due: the budget is shared
    const b2 = await claim('B', 5);
    expect(b2.every((s) => !s.alone)).toBe(true);
    expect(b2[0].at).toBeCloseTo(last(b1) + GRID.spacingMs, 2);
    await elapse(SHARED.memoryMs + 100); // A never got a slot: once the memory is over, B is alone again
    const b3 = await claim('B', 5);
    expect(b3.every((s) => s.alone)).toBe(true);
    for (const g of gaps(b3)) expect(g).toBeCloseTo(GRID.spacingMs, 2);
    // A's retry with a fresh token would have to wait out the gap after B's run: it takes no slot, and the grid
    // is not emptied before one far ahead.
    expect(await retrySlot('A')).toBeNull();
    const b4 = await claim('B', 1);
    expect(b4[0].at).toBeCloseTo(last(b3) + GRID.spacingMs, 2);
    expect(b4[0].alone).toBe(true);
    // B's own retry takes the next slot of its run.
    const r = await retrySlot('B');
    expect(r?.at).toBeCloseTo(last(b4) + GRID.spacingMs, 2);
    expect(r?.alone).toBe(true);
  });

  it('under any interleaving of three owners claiming, taking retry slots and pausing: no window holds more than the limit', async () => {
    type Step = { kind: 'claim'; owner: string; limit: number } | { kind: 'retry'; owner: string } | { kind: 'elapse' | 'pause'; ms: number };
    const owner = fc.constantFrom('A', 'B', 'C');
    // Mostly claims and short waits (slots of several owners packed into one window), some long waits (the
    // budget idle, shared no more) and pauses (a 429's Retry-After).
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('claim' as const), owner, limit: fc.integer({ min: 1, max: 25 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), owner }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('elapse' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('elapse' as const), ms: fc.integer({ min: 400, max: 4000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        if (runs++ > 0) {
          await db.ds.query(`UPDATE badge_state SET lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, next_attempt_at = now() - interval '1 hour'`);
          await db.ds.query(`TRUNCATE push_budget`);
          await repo.ensureBudget('');
          shift = 0;
        }
        const slots: Slot[] = [];
        for (const s of steps) {
          if (s.kind === 'claim') slots.push(...(await claim(s.owner, s.limit)));
          else if (s.kind === 'retry') {
            const slot = await retrySlot(s.owner);
            if (slot !== null) slots.push(slot);
          }
          else if (s.kind === 'pause') await repo.pause('', s.ms);
          else await elapse(s.ms);
        }
        checkGrid(slots);
      }),
      { numRuns: 40 },
    );
  });
});

/**
 * The grid's promises, on slots in one timeline: (1) any 1,000 ms holds at most the limit; (2) any 1,000 + J ms
 * that holds slots of two owners holds at most the limit, so the count per window at Feishu survives pushes
 * arriving up to J later relative to each other; (3) no other owner's slot is within 1,000 + J ms of a slot its
 * owner held alone (which it may send late, SendWindow keeping only its own count).
 */
function checkGrid(slots: Slot[]): void {
  const s = [...slots].sort((x, y) => x.at - y.at);
  const eps = 1e-6;
  for (let i = 0; i < s.length; i++) {
    let inSecond = 0;
    let inWide = 0;
    const owners = new Set<string>();
    for (let k = i; k < s.length && s[k].at < s[i].at + 1000 + J - eps; k++) {
      inWide++;
      owners.add(s[k].owner);
      if (s[k].at < s[i].at + 1000 - eps) inSecond++;
      if (s[k].owner !== s[i].owner && (s[k].alone || s[i].alone)) {
        throw new Error(`slot ${s[i].at} (${s[i].owner}${s[i].alone ? ', alone' : ''}) and ${s[k].at} (${s[k].owner}${s[k].alone ? ', alone' : ''}) are ${s[k].at - s[i].at} ms apart`);
      }
    }
    if (inSecond > L) throw new Error(`${inSecond} slots in the second from ${s[i].at}`);
    if (owners.size > 1 && inWide > L) throw new Error(`${inWide} slots of ${[...owners].join(', ')} in the ${1000 + J} ms from ${s[i].at}`);
  }
}
