import { Injectable } from '@nestjs/common';

export abstract class Clock {
  /** Milliseconds since the epoch. */
  abstract now(): number;
  abstract sleep(ms: number): Promise<void>;
}

@Injectable()
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number): Promise<void> {
    // Unreferenced: a pending injected delay must not keep a stopping process alive.
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}
