import { configServiceOf, loadConfig } from '@badges/config';
import { type BadgeSender, HELD, type SetAppBadgeOptions, type SetAppBadgeRequest, type SetAppBadgeResult } from '@badges/feishu';
import type { Claim, ClaimedUser, Completion, DatabaseService, ModeRepository, ReconcileRepository } from '@badges/store';
import { Clock } from '../common/clock';
import { ReadinessRegistry } from '../health/readiness.registry';
import { Metrics } from '../metrics/metrics.service';
import { DirtyListener } from './dirty.listener';
import { ReconcileLoop } from './reconcile.loop';

/** A wall clock an operator (or NTP) steps back by a minute right after the claim; the monotonic one runs on. */
class SteppedClock extends Clock {
  private stepMs = 0;
  stepBack(ms: number): void {
    this.stepMs -= ms;
  }
  stepForward(ms: number): void {
    this.stepMs += ms;
  }
  override now(): number {
    return Date.now() + this.stepMs;
  }
}

/** The loop is not started here: nothing may LISTEN. */
const notListening = {
  listen: () => {
    throw new Error('unexpected call: DatabaseService.listen');
  },
} as unknown as DatabaseService;

const APPLIED: SetAppBadgeResult = { outcome: 'applied', code: 0, httpStatus: 200, msg: 'success', logId: 'l', latencyMs: 1, tokenRefreshed: false };

/** A claimed user with a pc badge to push, never pushed before. */
const claimedUser = (userId: string): ClaimedUser => ({
  tenantKey: '',
  userIdType: 'open_id',
  userId,
  version: '1764115200000',
  revision: '1',
  desired: { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } },
  applied: { pc: null, mobile: null },
  forceFull: false,
  attempts: 0,
  desiredChangedAt: new Date(),
  leaseTakenOver: false,
});

describe('ReconcileLoop: a push never outlives its lease', () => {
  it('gives Feishu a deadline on the monotonic clock, which a step of the wall clock does not stretch', async () => {
    const config = loadConfig({ BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', RECONCILE_LEASE_MS: '30000' });
    const clock = new SteppedClock();
    const seen: { deadlineAt?: number; monoAtCall: number }[] = [];
    const feishu = {
      setAppBadge: async (_req: SetAppBadgeRequest, options: SetAppBadgeOptions = {}): Promise<SetAppBadgeResult> => {
        seen.push({ deadlineAt: options.deadlineAt, monoAtCall: clock.monotonic() });
        return APPLIED;
      },
    } as unknown as BadgeSender;
    const repository = { complete: async () => [] } as unknown as ReconcileRepository;
    const loop = new ReconcileLoop(configServiceOf(config), repository, {} as ModeRepository, feishu, new DirtyListener(notListening), new Metrics(), clock, new ReadinessRegistry());
    const user = claimedUser('ou_1');
    // What the claim measured: the database's clock reads as this wall clock (before the step).
    (loop as unknown as { dbClock: { sample(offsetMs: number, rttMs: number): void } }).dbClock.sample(0, 1);
    const claimedAtMono = clock.monotonic();
    const claim: Claim = {
      users: [user],
      firstSlotAt: clock.now(),
      spacingMs: 20,
      shared: false,
      budgetFreeAt: null,
      clockOffsetMs: 0,
      clockRttMs: 1,
      db: { firstSlotAt: Date.now(), budgetFreeAt: null },
    };
    clock.stepBack(60_000);
    await (loop as unknown as { pushBatch(c: Claim, s: string, m: number, release: () => void): Promise<void> }).pushBatch({ ...claim, firstSlotAt: clock.now() }, '', claimedAtMono, () => undefined);
    expect(seen).toHaveLength(1);
    const left = seen[0].deadlineAt! - seen[0].monoAtCall;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(30_000 - 1_000); // the lease less the reserve for recording the result
  });
});

describe('ReconcileLoop: a push late for its slot', () => {
  /**
   * One claim of `users` slots 20 ms apart, the first `lateMs` ago, sent through a sender that, as FeishuBadgeClient
   * does, asks beforeSend once its token is in hand, the token taking `tokenMs`.
   */
  const pushLate = async (
    shared: boolean,
    { lateMs = 0, tokenMs = 0, users = 60, clock = new SteppedClock(), duringToken = () => undefined as void } = {},
  ): Promise<{ sent: number; passed: number; calls: number; counted: number }> => {
    const config = loadConfig({ BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', FEISHU_RATE_LIMIT: '100' });
    let sent = 0;
    let calls = 0;
    const feishu = {
      setAppBadge: async (_req: SetAppBadgeRequest, options: SetAppBadgeOptions = {}): Promise<SetAppBadgeResult> => {
        calls++;
        duringToken();
        if (tokenMs > 0) await new Promise((resolve) => setTimeout(resolve, tokenMs)); // the token request's round trip
        if (options.beforeSend && !(await options.beforeSend())) return { ...HELD, latencyMs: tokenMs, tokenRefreshed: false };
        sent++;
        return APPLIED;
      },
    } as unknown as BadgeSender;
    const completions: Completion[] = [];
    const repository = {
      ensureBudget: async () => undefined,
      claim: async (): Promise<Claim> => {
        const first = Date.now() - lateMs;
        return { users: Array.from({ length: users }, (_, i) => claimedUser(`ou_${i}`)), firstSlotAt: first, spacingMs: 20, shared, budgetFreeAt: null, clockOffsetMs: 0, clockRttMs: 1, db: { firstSlotAt: first, budgetFreeAt: null } };
      },
      earliestDue: async () => null,
      complete: async (_owner: string, cs: Completion[]) => (completions.push(...cs), []),
    } as unknown as ReconcileRepository;
    const modes = { enter: async () => ({ was: 'live', reset: 0 }) } as unknown as ModeRepository;
    const metrics = new Metrics();
    const loop = new ReconcileLoop(configServiceOf(config), repository, modes, feishu, new DirtyListener(notListening), metrics, clock, new ReadinessRegistry());
    const internals = loop as unknown as { tick(): Promise<unknown>; batches: Set<Promise<void>> };
    await internals.tick();
    await Promise.all([...internals.batches]);
    const counted = (await metrics.pushes.get()).values.reduce((n, v) => n + v.value, 0);
    return { sent, passed: completions.filter((c) => c.message === 'not sent: its push slot had passed').length, calls, counted };
  };

  // 60 slots, the first 1,100 ms ago (an event loop that stalled): sent late are those at most 500 ms late when this
  // replica held the grid alone (its send window keeps the count), at most 15 ms late when the budget was shared
  // (only the grid's spacing keeps the count then).
  it('keeps its slot up to 500 ms late while its replica held the grid alone, only 15 ms once the budget was shared', async () => {
    const alone = await pushLate(false, { lateMs: 1100 });
    const shared = await pushLate(true, { lateMs: 1100 });
    expect(alone.sent + alone.passed).toBe(60);
    expect(shared.sent + shared.passed).toBe(60);
    // alone: slots from 500 ms late on (about 30); shared: from 15 ms late on (about 6)
    expect(alone.sent).toBeGreaterThanOrEqual(25);
    expect(shared.sent).toBeLessThanOrEqual(12);
    // A slot known to have passed is given up before any token is asked for: a failing token request would
    // otherwise have made it an auth failure.
    expect(shared.calls).toBeLessThanOrEqual(shared.sent + 1); // + 1: a slot may pass in the microtasks between the two checks
    expect([alone.counted, shared.counted]).toEqual([alone.sent, shared.sent]);
  });

  // Slots from now on, each push's token taking 100 ms (a store tenant's first push, a refused token): judged once
  // the token is in hand, each is 100 ms late, past the 15 ms bound; the 500 ms one needs the last window's slots
  // held, which a run that starts now does not. Judged before the token request, all would have left "on time".
  it('judges the slot once the token is in hand: a token that takes 100 ms gives the slot up', async () => {
    // Held pushes are not counted as pushes (badge_pushes_total).
    expect(await pushLate(true, { tokenMs: 100, users: 10 })).toEqual({ sent: 0, passed: 10, calls: 10, counted: 0 });
    expect(await pushLate(false, { tokenMs: 100, users: 10 })).toEqual({ sent: 0, passed: 10, calls: 10, counted: 0 });
    expect(await pushLate(true, { users: 10 })).toEqual({ sent: 10, passed: 0, calls: 10, counted: 10 });
  });

  // The grid is on the database's clock; a step of this replica's wall clock (NTP, a resumed VM) moves neither the
  // slots nor how late a push is. On the wall clock, a step forward gave on-time slots up, and a step back hid a
  // push 100 ms late (it was sent into the next replica's window).
  it("judges lateness on the database's clock: a step of the wall clock neither gives a slot up nor hides a late one", async () => {
    const forward = new SteppedClock();
    const stepping = setTimeout(() => forward.stepForward(300), 50); // while the pushes wait for their slots
    expect(await pushLate(true, { lateMs: -100, users: 10, clock: forward })).toMatchObject({ sent: 10, passed: 0 });
    clearTimeout(stepping);

    const back = new SteppedClock();
    let stepped = false;
    const stepBack = () => {
      if (!stepped) back.stepBack(1_000);
      stepped = true;
    };
    expect(await pushLate(true, { tokenMs: 100, users: 10, clock: back, duringToken: stepBack })).toMatchObject({ sent: 0, passed: 10 });
  });
});
