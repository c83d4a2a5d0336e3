import fc from 'fast-check';
import { ClockOffset } from './clock-offset';

/** A wall clock and a monotonic one, moved by hand: `advance` moves both, `step` the wall clock alone. */
class HandClocks {
  wall = 1_000_000;
  mono = 5_000;
  now = () => this.wall;
  monotonic = () => this.mono;
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  step(ms: number): void {
    this.wall += ms;
  }
}

describe('ClockOffset', () => {
  it('is 0 before any sample', () => {
    expect(new ClockOffset(new HandClocks()).offsetMs).toBe(0);
  });
  it('keeps the sample with the shortest round trip: slow answers do not move the estimate', () => {
    const t = new HandClocks();
    const c = new ClockOffset(t);
    c.sample(-2_000, 2);
    t.advance(100);
    c.sample(-2_090, 180); // a loaded machine: this one is off by up to 90 ms
    t.advance(100);
    c.sample(-1_950, 120);
    expect(c.offsetMs).toBe(-2_000);
    expect(c.toLocal(10_000)).toBe(12_000);
  });
  it('forgets samples older than its window (on the monotonic clock)', () => {
    const t = new HandClocks();
    const c = new ClockOffset(t, 30_000);
    c.sample(-2_000, 1);
    t.advance(31_000);
    c.sample(-2_001, 5);
    expect(c.offsetMs).toBe(-2_001);
  });
  it("follows a step of this replica's wall clock at once: the database's time as the replica sees it does not move", () => {
    const t = new HandClocks();
    const c = new ClockOffset(t);
    c.sample(-2_000, 1);
    const dbNow = () => t.now() + c.offsetMs;
    const before = dbNow();
    t.step(+700); // NTP, or a VM resumed
    expect(dbNow()).toBe(before);
    expect(c.offsetMs).toBe(-2_700);
    t.advance(50);
    c.sample(-2_700, 30); // what the next claim measures: consistent, nothing dropped
    expect(dbNow()).toBe(before + 50);
  });
  it("follows a step of the database's clock at its next sample, however good the older samples", () => {
    const t = new HandClocks();
    const c = new ClockOffset(t);
    c.sample(-2_000, 1);
    t.advance(1_000);
    c.sample(-2_000 + 400, 60); // the database's clock stepped 400 ms ahead: no agreement within 30.5 + 5 ms
    expect(c.offsetMs).toBe(-1_600);
    t.advance(1_000);
    c.sample(-1_590, 20); // consistent with the new clock: both kept, the better one wins
    expect(c.offsetMs).toBe(-1_590);
    t.advance(1_000);
    c.sample(-1_600 + 30, 100); // within both round trips of the estimate: kept, not a step
    expect(c.offsetMs).toBe(-1_590);
  });
  it('the estimate is always within half the round trip of the best recent sample, whatever the wall clock does (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5_000, max: 5_000 }),
        fc.array(fc.record({ rtt: fc.integer({ min: 0, max: 300 }), where: fc.double({ min: 0, max: 1, noNaN: true }), step: fc.integer({ min: -2_000, max: 2_000 }) }), { minLength: 1, maxLength: 64 }),
        (trueOffsetToMono, draws) => {
          const t = new HandClocks();
          const c = new ClockOffset(t);
          let bestRtt = Infinity;
          for (const d of draws) {
            t.advance(100);
            t.step(d.step);
            // The database read its clock somewhere within the round trip; the claim reports it against the wall.
            const dbMinusWall = trueOffsetToMono - (t.wall - t.mono) + (d.where - 0.5) * d.rtt;
            c.sample(dbMinusWall, d.rtt);
            bestRtt = Math.min(bestRtt, d.rtt);
          }
          const dbNowEstimate = t.now() + c.offsetMs;
          const dbNowTrue = t.mono + trueOffsetToMono;
          expect(Math.abs(dbNowEstimate - dbNowTrue)).toBeLessThanOrEqual(bestRtt / 2 + 1e-9);
        },
      ),
    );
  });
});
