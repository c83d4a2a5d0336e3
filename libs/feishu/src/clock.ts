/** Milliseconds since the epoch. Injected so token expiry and latency are testable without sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
