import fc from 'fast-check';
import { nextPassInMs, resyncBatch } from './resync.scheduler';

describe('drift repair passes', () => {
  it('space users at the share of the quota, and the next pass starts only once the last user is due (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 1000, noNaN: true }),
        fc.integer({ min: 10_000, max: 86_400_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (perSecond, intervalMs, random) => {
          const { max, spacingMs } = resyncBatch(perSecond, intervalMs);
          expect(spacingMs).toBeCloseTo(1000 / perSecond);
          expect(max).toBeGreaterThanOrEqual(1);
          if (max > 1) expect((max - 1) * spacingMs).toBeLessThanOrEqual(nextPassInMs(intervalMs, random));
        },
      ),
    );
  });
  it('at the defaults (50/s, share 0.1, 5 min): 5 users a second, 1,500 a pass', () => {
    expect(resyncBatch(5, 300_000)).toEqual({ max: 1500, spacingMs: 200 });
  });
});
