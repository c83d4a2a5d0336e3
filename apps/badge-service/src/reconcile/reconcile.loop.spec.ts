import { configServiceOf, loadConfig } from '@badges/config';
import type { BadgeSender, SetAppBadgeOptions, SetAppBadgeRequest, SetAppBadgeResult } from '@badges/feishu';
import type { Claim, DatabaseService, ModeRepository, ReconcileRepository } from '@badges/store';
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

describe('ReconcileLoop: a push never outlives its lease', () => {
  it('gives Feishu a deadline on the monotonic clock, which a step of the wall clock does not stretch', async () => {
    const config = loadConfig({ BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', RECONCILE_LEASE_MS: '30000' });
    const clock = new SteppedClock();
    const seen: { deadlineAt?: number; monoAtCall: number }[] = [];
    const feishu = {
      setAppBadge: async (_req: SetAppBadgeRequest, options: SetAppBadgeOptions = {}): Promise<SetAppBadgeResult> => {
        seen.push({ deadlineAt: options.deadlineAt, monoAtCall: clock.monotonic() });
        return { outcome: 'applied', code: 0, httpStatus: 200, msg: 'success', logId: 'l', latencyMs: 1, tokenRefreshed: false };
      },
    } as unknown as BadgeSender;
    const repository = { complete: async () => [] } as unknown as ReconcileRepository;
    const loop = new ReconcileLoop(configServiceOf(config), repository, {} as ModeRepository, feishu, new DirtyListener(notListening), new Metrics(), clock, new ReadinessRegistry());
    const user = {
      tenantKey: '',
      userIdType: 'open_id' as const,
      userId: 'ou_1',
      version: '1764115200000',
      revision: '1',
      desired: { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } },
      applied: { pc: null, mobile: null },
      forceFull: false,
      attempts: 0,
      desiredChangedAt: new Date(),
      leaseTakenOver: false,
    };
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
