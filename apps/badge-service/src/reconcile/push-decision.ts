import { SetAppBadgeResult } from '@badges/feishu';
import { Completion } from '@badges/store';
import { backoffMs } from '../common/retry';
import { PushPlan } from './push-plan';

/** Feishu's versions are 64-bit: nothing above this can be sent. */
export const MAX_VERSION = 9223372036854775807n;

/**
 * The version the next attempt must exceed after a conflict. With Feishu's `latest version: N`, that is N. Without
 * it, probe upward by doubling the refused version: a writer ahead by any amount below 2^63 is passed in at most
 * 63 attempts (about 22 from a millisecond clock), after which versions go on by +1. The result never exceeds
 * MAX_VERSION − 1, so the next allocation (+1) still fits; `exhausted` when MAX_VERSION itself was refused or named.
 */
export function versionAfterConflict(refused: string, latest: string | undefined): { minVersion: string; exhausted: boolean } {
  const sent = BigInt(refused);
  if (latest !== undefined) {
    const named = BigInt(latest);
    if (named >= MAX_VERSION) return { minVersion: MAX_VERSION.toString(), exhausted: true };
    // A hint below what was refused says nothing new (a side's version, a stale message): probe as without one.
    if (named >= sent) return { minVersion: named.toString(), exhausted: false };
  }
  if (sent >= MAX_VERSION) return { minVersion: MAX_VERSION.toString(), exhausted: true };
  const doubled = sent * 2n;
  return { minVersion: (doubled >= MAX_VERSION ? MAX_VERSION - 1n : doubled).toString(), exhausted: false };
}

export interface DecisionPolicy {
  minIntervalMs: number;
  conflictRetryMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface Attempted {
  tenantKey: string;
  userIdType: string;
  userId: string;
  version: string;
  attempts: number;
}

/**
 * Classifies one answer into what happens to the user next. The one place where retryable and terminal are
 * decided. An answer that may have been applied (5xx, timeout, anything unexpected) forgets the sent sides, so
 * the next push sends them again instead of trusting a stale record of Feishu.
 */
export function decide(u: Attempted, plan: PushPlan, r: SetAppBadgeResult, policy: DecisionPolicy, random: () => number): Completion {
  const base = {
    tenantKey: u.tenantKey,
    userIdType: u.userIdType,
    userId: u.userId,
    version: u.version,
    sent: plan,
    outcome: r.outcome,
    code: r.code,
    httpStatus: r.httpStatus,
    message: r.msg || null,
    logId: r.logId,
    latencyMs: r.latencyMs,
    forgetPc: false,
    forgetMobile: false,
    minVersion: null,
  };
  const backoff = (): Completion => ({
    ...base,
    kind: 'retry',
    status: 'backing_off',
    attempts: u.attempts + 1,
    delayMs: backoffMs(u.attempts, policy.backoffBaseMs, policy.backoffMaxMs, random),
  });
  switch (r.outcome) {
    case 'applied':
    // Shadow mode: recorded as if Feishu had taken it, so the next diff is what a live push would send; the
    // switch to live forgets every applied side (ModeRepository.enter), since Feishu never saw any of it.
    case 'shadow':
      return { ...base, kind: 'applied', status: 'in_sync', attempts: 0, delayMs: policy.minIntervalMs };
    case 'invalid_version':
      // 213005: Feishu found the version itself wrong (not a number it takes), not lower than its own: raising it
      // would not help. Back off, keeping Feishu's message; nothing was applied.
      return backoff();
    case 'version_conflict': {
      // Feishu holds a version at least ours, maybe from another writer: its state is unknown for the side.
      const next = versionAfterConflict(u.version, r.latestVersion);
      const forget = { forgetPc: r.code !== 213002 && !!plan.pc, forgetMobile: r.code !== 213001 && !!plan.mobile };
      if (next.exhausted) {
        return {
          ...base,
          ...forget,
          kind: 'park',
          status: 'parked',
          attempts: u.attempts + 1,
          delayMs: 0,
          minVersion: next.minVersion,
          message: `${base.message ? `${base.message}; ` : ''}${VERSION_EXHAUSTED}`,
        };
      }
      return { ...base, ...forget, kind: 'retry', status: 'pending', attempts: u.attempts + 1, delayMs: policy.conflictRetryMs, minVersion: next.minVersion };
    }
    case 'not_sent':
      // Stopped before it left (its lease would have expired first): nothing changed at Feishu, so nothing is
      // forgotten and the user is not charged an attempt; it comes due again at once.
      return { ...base, sent: null, kind: 'retry', status: 'pending', attempts: u.attempts, delayMs: 0 };
    case 'rate_limited':
      return { ...base, kind: 'retry', status: 'pending', attempts: u.attempts, delayMs: r.retryAfterMs ?? 1000 };
    case 'user_invalid':
    case 'user_invisible':
      return { ...base, kind: 'park', status: 'parked', attempts: u.attempts + 1, delayMs: 0 };
    case 'concurrent':
    case 'auth':
    case 'no_data':
      return backoff();
    case 'transient':
    case 'unexpected':
    default:
      return { ...backoff(), forgetPc: !!plan.pc, forgetMobile: !!plan.mobile };
  }
}

export const VERSION_EXHAUSTED = `Feishu holds version ${MAX_VERSION} (the 64-bit maximum) for this user: no higher version exists, so nothing more can be pushed`;

/** A push not sent because the deployment is paused by a 429 seen meanwhile: retry when the pause ends. */
export function deferred(u: Attempted, delayMs: number, why = 'not sent: pushing paused after a rate limit'): Completion {
  return {
    tenantKey: u.tenantKey,
    userIdType: u.userIdType,
    userId: u.userId,
    version: u.version,
    kind: 'retry',
    status: 'pending',
    attempts: u.attempts,
    delayMs,
    sent: null,
    outcome: 'deferred',
    code: null,
    httpStatus: null,
    message: why,
    logId: null,
    latencyMs: null,
    forgetPc: false,
    forgetMobile: false,
    minVersion: null,
  };
}

export function noop(u: Attempted): Completion {
  return { ...deferred(u, 0), kind: 'noop', status: 'in_sync', attempts: 0, outcome: 'noop', message: null };
}
