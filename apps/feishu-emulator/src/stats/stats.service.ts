import { Injectable } from '@nestjs/common';

type Counts = Record<string, number>;

export interface AnswerStats {
  requests: Counts;
  codes: Record<string, Counts>;
  statuses: Record<string, Counts>;
  inFlight: number;
  peakInFlight: number;
}

/** Counts answers per Feishu endpoint, by body `code` and by HTTP status. */
@Injectable()
export class StatsService {
  private requests: Counts = {};
  private codes: Record<string, Counts> = {};
  private statuses: Record<string, Counts> = {};
  private inFlight = 0;
  private peakInFlight = 0;
  private drainWaiters: Array<() => void> = [];

  started(): void {
    this.inFlight += 1;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
  }

  ended(endpoint: string | undefined, code: string, status: string): void {
    this.inFlight -= 1;
    if (endpoint !== undefined) {
      this.requests[endpoint] = (this.requests[endpoint] ?? 0) + 1;
      const codes = (this.codes[endpoint] ??= {});
      codes[code] = (codes[code] ?? 0) + 1;
      const statuses = (this.statuses[endpoint] ??= {});
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    if (this.inFlight === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves once no request is in flight. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  snapshot(): AnswerStats {
    return {
      requests: { ...this.requests },
      codes: structuredClone(this.codes),
      statuses: structuredClone(this.statuses),
      inFlight: this.inFlight,
      peakInFlight: this.peakInFlight,
    };
  }

  reset(): void {
    this.requests = {};
    this.codes = {};
    this.statuses = {};
    this.peakInFlight = this.inFlight;
  }
}
