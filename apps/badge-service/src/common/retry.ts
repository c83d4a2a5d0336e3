/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)] (AWS architecture blog). */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(baseMs / 2, Math.floor(random() * ceiling));
}

export interface RetryOptions {
  /** Backoff of the n-th retry (backoffMs): from `baseMs`, doubling, at most `capMs`. */
  baseMs: number;
  capMs: number;
  /** Randomness and sleep behind a seam (the app's Clock). sleep resolves early when the signal aborts. */
  clock: { random(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> };
  /** Whether failure number `attempt` (from 0) is tried again; false rethrows it. Default: always. */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Told of each failure that is retried, with the wait before the next try (for the log). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Aborting stops the retries: the wait ends and the last failure is rethrown. */
  signal?: AbortSignal;
}

/** Runs `fn` until it succeeds, waiting backoffMs(attempt) between tries; gives up as `shouldRetry` and `signal` say. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (o.signal?.aborted || (o.shouldRetry && !o.shouldRetry(e, attempt))) throw e;
      const delayMs = backoffMs(attempt, o.baseMs, o.capMs, () => o.clock.random());
      o.onRetry?.(e, attempt, delayMs);
      await o.clock.sleep(delayMs, o.signal);
      if (o.signal?.aborted) throw e;
    }
  }
}
