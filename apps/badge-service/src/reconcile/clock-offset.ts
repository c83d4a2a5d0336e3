/** The two clocks a replica reads: the wall clock (which NTP or a resumed VM may step) and the monotonic one. */
export interface Clocks {
  now(): number;
  monotonic(): number;
}

/**
 * The database's clock minus this process's wall clock, from the samples each claim takes (the database's clock
 * read between two local readings). A sample is right to within half its round trip, and on a loaded machine a
 * round trip can take a hundred milliseconds, more than the spacing of two push slots: so, as NTP does, the
 * estimate is the sample with the shortest round trip among the recent ones.
 *
 * Samples are kept against the monotonic clock, so a step of this replica's wall clock moves the database's time
 * as the replica sees it not at all, from the instant of the step. A step of the database's clock shows in the
 * next sample: one that cannot agree with the estimate within both round trips (and a drift allowance) means the
 * older samples describe a clock that is gone, and they are dropped. Either way the replica's slots follow the
 * database's clock at once rather than up to `windowMs` later.
 */
export class ClockOffset {
  private samples: { dbMinusMono: number; rttMs: number; atMono: number }[] = [];
  private best: { dbMinusMono: number; rttMs: number } | null = null;

  constructor(
    private readonly clocks: Clocks,
    private readonly windowMs = 30_000,
    private readonly maxSamples = 64,
    /** Two clocks disciplined by NTP drift apart by well under this in a window. */
    private readonly driftAllowanceMs = 5,
  ) {}

  /** `offsetMs` is the database's clock minus the wall clock when it was read; `rttMs` the round trip around it. */
  sample(offsetMs: number, rttMs: number): void {
    const atMono = this.clocks.monotonic();
    const dbMinusMono = offsetMs + (this.clocks.now() - atMono);
    const best = this.best;
    if (best && Math.abs(dbMinusMono - best.dbMinusMono) > (rttMs + best.rttMs) / 2 + this.driftAllowanceMs) this.samples = [];
    this.samples.push({ dbMinusMono, rttMs, atMono });
    this.samples = this.samples.filter((s) => atMono - s.atMono <= this.windowMs).slice(-this.maxSamples);
    this.best = this.samples.reduce((b, s) => (s.rttMs <= b.rttMs ? s : b), this.samples[0]);
  }

  /** 0 until the first sample. */
  get offsetMs(): number {
    return this.best === null ? 0 : this.best.dbMinusMono - (this.clocks.now() - this.clocks.monotonic());
  }

  toLocal(dbMs: number): number {
    return dbMs - this.offsetMs;
  }
}
