/** One push's place in a SendWindow: when it left, and when its answer (or the giving up on one) came. */
export interface SendTicket {
  readonly sentAt: number;
  answeredAt: number;
}

/**
 * A sliding-window guard on real send and answer times, per quota scope. Feishu's gateway (and the emulator's
 * limiter) count requests per fixed one-second window as they arrive, and a request arrives after it left and
 * before its answer came back. So a push may leave only once the push `limit` places before it was answered at
 * least `windowMs` (one second) ago: any `limit` + 1 consecutive pushes then arrive more than a second apart, and no
 * one-second window at the gateway receives more than `limit` of them, however a stalled event loop bunches the
 * sends and whatever the network's or the gateway's own delays. Times are on the monotonic clock.
 */
export class SendWindow {
  /** A ring of at most `limit` tickets, grown as pushes leave (a scope that sends little keeps little). */
  private readonly tickets: SendTicket[] = [];
  private next = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`SendWindow limit must be a positive integer, got ${limit}`);
  }

  /**
   * The earliest time (≥ now) at which one more push may leave; Infinity while the push it must follow is still
   * unanswered (answered() then resolves).
   */
  freeAt(now: number): number {
    if (this.tickets.length < this.limit) return now;
    const oldest = this.tickets[this.next]!;
    return Number.isNaN(oldest.answeredAt) ? Infinity : Math.max(now, oldest.answeredAt + this.windowMs);
  }

  /** Records a push leaving at `at`; the caller checked freeAt(at) === at just before (no await between). */
  take(at: number): SendTicket {
    const ticket: SendTicket = { sentAt: at, answeredAt: Number.NaN };
    if (this.tickets.length < this.limit) {
      this.tickets.push(ticket);
    } else {
      this.tickets[this.next] = ticket;
      this.next = (this.next + 1) % this.limit;
    }
    return ticket;
  }

  /** The push's answer came (or it was given up) at `at`. */
  answered(ticket: SendTicket, at: number): void {
    if (!Number.isNaN(ticket.answeredAt)) return;
    ticket.answeredAt = at;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next answer. */
  nextAnswer(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * Whether this replica holds every slot of the shared budget's grid (push_budget) over a stretch of time, in the
 * database's clock: the claims it made follow each other without a gap (each claim's first slot is the one after
 * the previous claim's last), none of them while the budget was shared. Another replica's claim, an idle budget,
 * or a claim made while the budget counted as shared ends the run (whose slots stay this replica's alone: another
 * replica's come no sooner than SlotGrid's join gap after them).
 *
 * Only over such a run may a push leave later than its slot (SendWindow then keeps the count per window): with
 * several replicas sharing the grid, a push sent late lands among another replica's on-time pushes, which the
 * grid's spacing absorbs only for a bounded lateness. (A replica that joins the budget later starts a window
 * after this run's last slot: SlotGrid's join gap.)
 */
export class SlotRun {
  private since = Number.NaN;
  private until = Number.NaN;

  /**
   * A claim's slots: `n` slots from `firstSlotAt`, every `spacingMs` (the database's clock); `alone` false when the
   * budget counted as shared for it (Claim.shared): they are not part of the run, which ends where it was (the next
   * claim alone cannot follow it without a gap: these slots are between).
   */
  claimed(firstSlotAt: number, n: number, spacingMs: number, alone = true): void {
    if (n <= 0 || !alone) return;
    // Slots are computed in float8 on both sides: a contiguous claim starts within a rounding error of `until`.
    if (!(Math.abs(firstSlotAt - this.until) < Math.min(1, spacingMs / 2))) this.since = firstSlotAt;
    this.until = firstSlotAt + n * spacingMs;
  }

  /** Whether every slot in [from, to] is this replica's (the database's clock). */
  covers(from: number, to: number): boolean {
    return this.since <= from && to < this.until;
  }
}
