/**
 * The database's clock minus this process's, from the samples each claim takes (the database's clock read
 * between two local readings). A sample is right to within half its round trip, and on a loaded machine a round
 * trip can take a hundred milliseconds, more than the spacing of two push slots: so, as NTP does, the estimate is
 * the sample with the shortest round trip among the recent ones. Clocks drift slowly; steps (an NTP correction,
 * a VM resumed) show within `windowMs`.
 */
export class ClockOffset {
  private samples: { offsetMs: number; rttMs: number; at: number }[] = [];
  private best: { offsetMs: number; rttMs: number } | null = null;

  constructor(
    private readonly windowMs = 30_000,
    private readonly maxSamples = 64,
  ) {}

  sample(offsetMs: number, rttMs: number, at: number): void {
    this.samples.push({ offsetMs, rttMs, at });
    this.samples = this.samples.filter((s) => at - s.at <= this.windowMs).slice(-this.maxSamples);
    this.best = this.samples.reduce((b, s) => (s.rttMs <= b.rttMs ? s : b), this.samples[0]);
  }

  /** 0 until the first sample. */
  get offsetMs(): number {
    return this.best?.offsetMs ?? 0;
  }

  toLocal(dbMs: number): number {
    return dbMs - this.offsetMs;
  }
}
