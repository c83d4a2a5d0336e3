import { Clock } from '../src/common/clock.service';

/** A clock that moves only when told to; sleeps end when the clock is advanced past them. */
export class ManualClock extends Clock {
  private sleepers: Array<{ until: number; wake: () => void }> = [];

  constructor(private current = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    super();
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ until: this.current + ms, wake }));
  }

  advance(ms: number): void {
    this.current += ms;
    const due = this.sleepers.filter((s) => s.until <= this.current);
    this.sleepers = this.sleepers.filter((s) => s.until > this.current);
    for (const sleeper of due) sleeper.wake();
  }

  pendingSleeps(): number {
    return this.sleepers.length;
  }
}
