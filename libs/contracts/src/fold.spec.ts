import fc from 'fast-check';
import { BadgeEvent, Counts, MAX_COUNT } from './badge-event';
import { newestPerSource, sourceKey, sumCounts } from './fold';

const ev = (userId: string, source: string, sequence: number, n = sequence): BadgeEvent => ({
  eventId: `${userId}-${source}-${sequence}`,
  userId,
  userIdType: 'open_id',
  tenantKey: '',
  source,
  sequence,
  counts: { pc: { web_app: n, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } },
  occurredAt: new Date(0),
});

describe('newestPerSource', () => {
  it('keeps the highest sequence per source and reports the rest as superseded', () => {
    const { newest, superseded } = newestPerSource([ev('u', 'a', 1), ev('u', 'a', 3), ev('u', 'b', 2), ev('u', 'a', 2)]);
    expect(newest.map((e) => e.eventId).sort()).toEqual(['u-a-3', 'u-b-2']);
    expect(superseded.map((e) => e.eventId).sort()).toEqual(['u-a-1', 'u-a-2']);
  });

  it('is independent of delivery order and duplication (property)', () => {
    const arb = fc.array(fc.tuple(fc.constantFrom('u1', 'u2', 'u3'), fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 50 })), {
      maxLength: 60,
    });
    fc.assert(
      fc.property(arb, fc.integer(), (tuples, seed) => {
        const events = tuples.map(([u, s, q]) => ev(u, s, q));
        const shuffled = fc.sample(fc.shuffledSubarray([...events, ...events], { minLength: events.length * 2 }), { numRuns: 1, seed })[0];
        const view = (es: BadgeEvent[]) =>
          new Map(newestPerSource(es).newest.map((e) => [sourceKey(e), e.sequence] as const));
        expect(view(shuffled)).toEqual(view(events));
        const { newest, superseded } = newestPerSource(shuffled);
        expect(newest.length + superseded.length).toBe(shuffled.length);
      }),
    );
  });
});

describe('sumCounts', () => {
  const c = (pw: number, pg: number, mw: number, mg: number): Counts => ({ pc: { web_app: pw, gadget: pg }, mobile: { web_app: mw, gadget: mg } });
  it('sums per side and field, and a source at zero adds nothing', () => {
    expect(sumCounts([c(1, 2, 3, 4), c(10, 0, 0, 1), c(0, 0, 0, 0)])).toEqual(c(11, 2, 3, 5));
    expect(sumCounts([])).toEqual(c(0, 0, 0, 0));
  });
  it('caps at 2^31-1 and is order-independent (property)', () => {
    const n = fc.integer({ min: 0, max: MAX_COUNT });
    fc.assert(
      fc.property(fc.array(fc.tuple(n, n, n, n), { maxLength: 8 }), (parts) => {
        const counts = parts.map((p) => c(...p));
        const s = sumCounts(counts);
        expect(sumCounts([...counts].reverse())).toEqual(s);
        const exact = parts.reduce((a, p) => a + p[0], 0);
        expect(s.pc.web_app).toBe(Math.min(MAX_COUNT, exact));
      }),
    );
  });
});
