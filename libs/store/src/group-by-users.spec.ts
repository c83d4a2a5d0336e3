import fc from 'fast-check';
import { groupByUsers } from './ingest.repository';

describe('groupByUsers', () => {
  it('puts each user in exactly one group, at most max users a group, keeping every event', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ userId: fc.integer({ min: 0, max: 40 }).map(String), n: fc.nat() }), { maxLength: 300 }), fc.integer({ min: 1, max: 10 }), (raw, max) => {
        const events = raw.map((r) => ({ tenantKey: '', userIdType: 'open_id', userId: r.userId, n: r.n }));
        const groups = groupByUsers(events, (e) => e.userId, max);
        expect(groups.flat()).toHaveLength(events.length);
        const home = new Map<string, number>();
        groups.forEach((g, i) => {
          const users = new Set(g.map((e) => e.userId));
          expect(users.size).toBeLessThanOrEqual(max);
          for (const u of users) {
            expect(home.has(u)).toBe(false);
            home.set(u, i);
          }
        });
      }),
    );
  });
});
