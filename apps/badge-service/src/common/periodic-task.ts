/** What a pass ended with: its result, or the error it threw. */
export type PassOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface PeriodicTaskOptions<T> {
  /** Names the task in the log line of a failed pass ("<name> failed"). */
  name: string;
  /** One pass. `signal` aborts when the task is stopped: a long pass checks it between steps. */
  run: (signal: AbortSignal) => Promise<T>;
  /** Delay before the first pass (jittered by the caller, so replicas started together spread out). */
  firstDelayMs: () => number;
  /** Delay from the end of a pass to the start of the next, given how it ended. */
  nextDelayMs: (outcome: PassOutcome<T>) => number;
  log: { warn(fields: object, message: string): void; error(fields: object, message: string): void };
  /** How a failed pass is logged. Default 'error'. */
  failureLevel?: 'warn' | 'error';
}

/**
 * A job run again and again on one process: passes never overlap (the next is timed from the end of the last), a
 * failed pass is logged and the task goes on, and the timers are unref'd (they never keep the process alive).
 * stop() cancels the next pass and waits for the running one. On several replicas, the pass decides whether it
 * may do the work (an advisory lock): this schedules it, and nothing more.
 */
export class PeriodicTask<T = unknown> {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly stopping = new AbortController();

  constructor(private readonly o: PeriodicTaskOptions<T>) {}

  start(): void {
    this.schedule(this.o.firstDelayMs());
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => (this.running = undefined));
    }, delayMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    let outcome: PassOutcome<T>;
    try {
      outcome = { ok: true, value: await this.o.run(this.stopping.signal) };
    } catch (e) {
      outcome = { ok: false, error: e };
    }
    let next: number;
    try {
      next = this.o.nextDelayMs(outcome);
    } catch (e) {
      outcome = { ok: false, error: e };
      next = this.o.firstDelayMs();
    }
    if (!outcome.ok) this.o.log[this.o.failureLevel ?? 'error']({ err: outcome.error, nextPassInMs: next }, `${this.o.name} failed`);
    this.schedule(next);
  }
}

/** `intervalMs` spread uniformly over ±`jitter` of it (0.1: ±10%), with `random` in [0, 1). */
export function jittered(intervalMs: number, jitter: number, random: number): number {
  return Math.round(intervalMs * (1 - jitter + 2 * jitter * random));
}
