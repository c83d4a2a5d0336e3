import type { Clock } from '../clock';

export class FakeClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 24, 8, 0, 0)) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}
