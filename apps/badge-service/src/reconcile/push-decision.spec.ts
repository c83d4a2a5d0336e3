import fc from 'fast-check';
import { SetAppBadgeResult } from '@badges/feishu';
import { decide, DecisionPolicy, MAX_VERSION, versionAfterConflict } from './push-decision';

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

describe('a push stopped before it was sent', () => {
  it('forgets nothing, charges no attempt, records no payload and comes due again at once', () => {
    const c = decide(user, plan, result('not_sent', { httpStatus: null, msg: 'not sent: its deadline (the lease) would pass first' }), policy, () => 0.5);
    expect(c).toMatchObject({ kind: 'retry', status: 'pending', attempts: user.attempts, delayMs: 0, sent: null, forgetPc: false, forgetMobile: false });
  });
});

describe('versions after a conflict', () => {
  const conflict = (version: string, msg: string, latestVersion?: string) =>
    decide({ ...user, version }, plan, result('version_conflict', { code: 213001, msg, ...(latestVersion ? { latestVersion } : {}) }), policy, () => 0.5);

  it('without a hint, doubles the refused version: a writer anywhere below 2^63 is passed within 64 attempts (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: MAX_VERSION - 1n }), fc.bigInt({ min: 1_700_000_000_000n, max: 2_000_000_000_000n }), (writer, start) => {
        let version = start;
        let attempts = 0;
        while (version <= writer) {
          const c = conflict(version.toString(), 'pc version conflict');
          expect(c.kind).toBe('retry');
          expect(BigInt(c.minVersion!)).toBeGreaterThan(version - 1n);
          version = BigInt(c.minVersion!) + 1n; // the claim allocates last + 1
          attempts++;
          expect(attempts).toBeLessThanOrEqual(64);
        }
      }),
    );
  });
  it('never asks for more than the 64-bit maximum, and parks the user once the maximum itself is refused', () => {
    expect(versionAfterConflict((MAX_VERSION / 2n + 5n).toString(), undefined)).toEqual({ minVersion: (MAX_VERSION - 1n).toString(), exhausted: false });
    const c = conflict(MAX_VERSION.toString(), 'pc version conflict');
    expect(c).toMatchObject({ kind: 'park', status: 'parked' });
    expect(c.message).toMatch(/no higher version exists/);
  });
  it.each([MAX_VERSION.toString(), '98765432109876543210'])('a hint of %s parks the user with the reason instead of storing an unusable version', (hint) => {
    expect(conflict('1764115200000', `pc version conflict, latest version: ${hint}`, hint)).toMatchObject({ kind: 'park', minVersion: MAX_VERSION.toString() });
  });
  it('a hint below the refused version says nothing new: the version is doubled as without one', () => {
    expect(conflict('1764115200000', 'x', '42')).toMatchObject({ kind: 'retry', minVersion: '3528230400000' });
  });
  it('213005 (the version itself invalid) backs off, keeping the message, instead of raising the version', () => {
    const c = decide(user, plan, result('invalid_version', { code: 213005, msg: 'invalid version' }), policy, () => 0.5);
    expect(c).toMatchObject({ kind: 'retry', status: 'backing_off', minVersion: null, message: 'invalid version' });
  });
  it('a hint below the maximum is the version to beat', () => {
    expect(conflict('1764115200000', 'x', '1764115299999')).toMatchObject({ kind: 'retry', minVersion: '1764115299999' });
  });
});
