import { Injectable } from '@nestjs/common';

/** Time and randomness behind a seam, so loops and backoff are testable without waiting. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
  /** Milliseconds that only move forward (not the wall clock, which NTP may step): for deadlines. */
  monotonic(): number {
    return performance.now();
  }
  random(): number {
    return Math.random();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
