import fc from 'fast-check';
import { SetAppBadgeResult } from '@badges/feishu';
import { decide, DecisionPolicy } from './push-decision';

const policy: DecisionPolicy = { minIntervalMs: 1000, conflictRetryMs: 200, backoffBaseMs: 1000, backoffMaxMs: 60_000 };
const user = { tenantKey: '', userIdType: 'open_id', userId: 'u', version: '1764115200000', attempts: 2 };
const plan = { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 2, gadget: 0 } };
const result = (outcome: SetAppBadgeResult['outcome'], extra: Partial<SetAppBadgeResult> = {}): SetAppBadgeResult => ({
  outcome,
  code: null,
  httpStatus: 200,
  msg: '',
  logId: 'log-1',
  latencyMs: 12,
  tokenRefreshed: false,
  ...extra,
});

describe('decide', () => {
  it('success records the state, resets attempts and waits the per-user minimum interval', () => {
    expect(decide(user, plan, result('applied', { code: 0 }), policy, () => 0.5)).toMatchObject({ kind: 'applied', attempts: 0, delayMs: 1000, sent: plan });
  });
  it('a version conflict retries soon above the version Feishu names and forgets the conflicting side', () => {
    const c = decide(user, plan, result('version_conflict', { code: 213001, latestVersion: '1764115299999' }), policy, () => 0.5);
    expect(c).toMatchObject({ kind: 'retry', status: 'pending', delayMs: 200, minVersion: '1764115299999', forgetPc: true, forgetMobile: false });
  });
  it('a rate limit waits for the reset without counting against the user', () => {
    expect(decide(user, plan, result('rate_limited', { httpStatus: 429, retryAfterMs: 3000 }), policy, () => 0.5)).toMatchObject({
      kind: 'retry',
      status: 'pending',
      attempts: 2,
      delayMs: 3000,
    });
  });
  it.each(['user_invalid', 'user_invisible'] as const)('%s parks the user', (o) => {
    expect(decide(user, plan, result(o), policy, () => 0.5)).toMatchObject({ kind: 'park', status: 'parked' });
  });
  it('an answer that may have been applied forgets the sent sides so the next push sends them again', () => {
    expect(decide(user, plan, result('transient', { httpStatus: 500 }), policy, () => 0.5)).toMatchObject({ status: 'backing_off', forgetPc: true, forgetMobile: true });
    expect(decide(user, plan, result('concurrent', { code: 213004 }), policy, () => 0.5)).toMatchObject({ status: 'backing_off', forgetPc: false });
  });
  it('backoff grows with attempts and stays within the cap (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempts, r) => {
        const c = decide({ ...user, attempts }, plan, result('transient'), policy, () => r);
        expect(c.delayMs).toBeGreaterThanOrEqual(policy.backoffBaseMs / 2);
        expect(c.delayMs).toBeLessThanOrEqual(policy.backoffMaxMs);
        expect(c.attempts).toBe(attempts + 1);
      }),
    );
  });
});
