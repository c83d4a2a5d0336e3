import { BadgeEvent, Counts, FIELDS, MAX_COUNT, SIDES } from './badge-event';

export const sourceKey = (e: Pick<BadgeEvent, 'tenantKey' | 'userIdType' | 'userId' | 'source'>): string =>
  `${e.tenantKey}\u0000${e.userIdType}\u0000${e.userId}\u0000${e.source}`;

/**
 * Newest wins per (tenant, user id type, user id, source): keeps the highest sequence, the first seen on a tie
 * (a duplicate). Everything else is returned as superseded, so it can be recorded as stale.
 */
export function newestPerSource<E extends BadgeEvent>(events: readonly E[]): { newest: E[]; superseded: E[] } {
  const best = new Map<string, E>();
  const superseded: E[] = [];
  for (const e of events) {
    const k = sourceKey(e);
    const cur = best.get(k);
    if (cur === undefined) best.set(k, e);
    else if (e.sequence > cur.sequence) {
      superseded.push(cur);
      best.set(k, e);
    } else superseded.push(e);
  }
  return { newest: [...best.values()], superseded };
}

/** The badge a user should see: per side and field, the sum over sources, capped at 2^31-1. */
export function sumCounts(parts: readonly Counts[]): Counts {
  const out: Counts = { pc: { web_app: 0, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } };
  for (const p of parts) for (const s of SIDES) for (const f of FIELDS) out[s][f] = Math.min(MAX_COUNT, out[s][f] + p[s][f]);
  return out;
}
