import { BadgeEvent, Counts } from '@badges/contracts';

export const counts = (pcWeb: number, pcGadget = 0, mobWeb = 0, mobGadget = 0): Counts => ({
  pc: { web_app: pcWeb, gadget: pcGadget },
  mobile: { web_app: mobWeb, gadget: mobGadget },
});

export function event(userId: string, source: string, sequence: number, c: Counts, extra: Partial<BadgeEvent> = {}): BadgeEvent {
  return {
    eventId: `${userId}:${source}:${sequence}`,
    userId,
    userIdType: 'open_id',
    tenantKey: '',
    source,
    sequence,
    counts: c,
    occurredAt: new Date('2026-11-24T08:00:00.000Z'),
    ...extra,
  };
}

/** The wire form of an event, as producers publish it. */
export function wire(e: BadgeEvent): string {
  return JSON.stringify({
    eventId: e.eventId,
    userId: e.userId,
    userIdType: e.userIdType,
    ...(e.tenantKey ? { tenantKey: e.tenantKey } : {}),
    source: e.source,
    sequence: e.sequence,
    counts: e.counts,
    occurredAt: e.occurredAt.toISOString(),
  });
}
