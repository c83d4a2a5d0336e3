import fc from 'fast-check';
import { ClockOffset } from './clock-offset';

describe('ClockOffset', () => {
  it('is 0 before any sample', () => {
    expect(new ClockOffset().offsetMs).toBe(0);
  });
  it('keeps the sample with the shortest round trip: slow answers do not move the estimate', () => {
    const c = new ClockOffset();
    c.sample(-2_000, 2, 0);
    c.sample(-2_090, 180, 100); // a loaded machine: this one is off by up to 90 ms
    c.sample(-1_950, 120, 200);
    expect(c.offsetMs).toBe(-2_000);
    expect(c.toLocal(10_000)).toBe(12_000);
  });
  it('forgets samples older than its window, so a clock step is followed', () => {
    const c = new ClockOffset(30_000);
    c.sample(-2_000, 1, 0);
    c.sample(500, 5, 31_000);
    expect(c.offsetMs).toBe(500);
  });
  it('the estimate is always within half the round trip of the best recent sample (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5_000, max: 5_000 }),
        fc.array(fc.record({ rtt: fc.integer({ min: 0, max: 300 }), where: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 64 }),
        (trueOffset, draws) => {
          const c = new ClockOffset();
          let bestRtt = Infinity;
          draws.forEach((d, i) => {
            // The database read its clock somewhere within the round trip.
            c.sample(trueOffset + (d.where - 0.5) * d.rtt, d.rtt, i);
            bestRtt = Math.min(bestRtt, d.rtt);
          });
          expect(Math.abs(c.offsetMs - trueOffset)).toBeLessThanOrEqual(bestRtt / 2 + 1e-9);
        },
      ),
    );
  });
});
