import { type SendTicket, SendWindow, SlotRun } from './send-window';

/** The most sends any fixed one-second window [k s, (k + 1) s) receives, each arriving `delay(i)` after it left. */
function busiestWindow(sentAt: number[], delay: (i: number) => number = () => 0): number {
  const perWindow = new Map<number, number>();
  sentAt.forEach((t, i) => {
    const w = Math.floor((t + delay(i)) / 1000);
    perWindow.set(w, (perWindow.get(w) ?? 0) + 1);
  });
  return Math.max(...perWindow.values());
}

/**
 * One sender pushing at each of `wantAt` (sorted) as soon as the window lets it, push i answered `rtt(i)` after it
 * left: what a stalled loop catching up does. Returns the send and answer times.
 */
function sendAll(window: SendWindow, wantAt: number[], rtt: (i: number) => number): { sentAt: number[]; answeredAt: number[] } {
  const sentAt: number[] = [];
  const answeredAt: number[] = [];
  const open: { ticket: SendTicket; at: number }[] = [];
  const answerUpTo = (t: number) => {
    for (const o of open.splice(0)) {
      if (o.at <= t) window.answered(o.ticket, o.at);
      else open.push(o);
    }
  };
  wantAt.forEach((want, i) => {
    let t = Math.max(want, sentAt.at(-1) ?? 0);
    for (;;) {
      answerUpTo(t);
      const free = window.freeAt(t);
      if (free === t) break;
      // Waiting for an answer still out: the earliest one to come.
      t = free === Infinity ? Math.min(...open.map((o) => o.at)) : free;
    }
    const ticket = window.take(t);
    sentAt.push(t);
    answeredAt.push(t + rtt(i));
    open.push({ ticket, at: t + rtt(i) });
  });
  return { sentAt, answeredAt };
}

const Q = 50;
// Slots every 20.3 ms (0.985 x Q), with stalls: every 7th second the loop stops from 700 ms to 1,100 ms, and then
// every push whose slot passed wants to leave at once, in the next second beside that second's own.
const slots = Array.from({ length: Q * 30 }, (_, i) => i * (1000 / (Q * 0.985)));
const stalled = (s: number) => (Math.floor(s / 1000) % 7 === 3 && s % 1000 >= 700 ? Math.floor(s / 1000) * 1000 + 1100 : s);
/** Round trips of 2 to 80 ms, the long ones now and then (a busy box, a slow gateway). */
const rtt = (i: number) => (i % 13 === 0 ? 80 : 2 + ((i * 7) % 11));

describe('SendWindow', () => {
  it('lets the first `limit` pushes leave at once, then the next only a window after the oldest was answered', () => {
    const w = new SendWindow(3, 1000);
    const tickets = [0, 1, 2].map((t) => {
      expect(w.freeAt(t)).toBe(t);
      return w.take(t);
    });
    expect(w.freeAt(500)).toBe(Infinity); // the oldest is still out
    w.answered(tickets[0]!, 30);
    expect(w.freeAt(500)).toBe(1030);
    expect(w.freeAt(1500)).toBe(1500);
    w.take(1500);
    expect(w.freeAt(1000)).toBe(Infinity);
    w.answered(tickets[1]!, 40);
    expect(w.freeAt(1000)).toBe(1040);
  });

  it('wakes a push waiting for an answer', async () => {
    const w = new SendWindow(1, 1000);
    const t = w.take(0);
    const woken = w.nextAnswer();
    w.answered(t, 5);
    await expect(woken).resolves.toBeUndefined();
    w.answered(t, 9); // a second answer changes nothing
    expect(w.freeAt(0)).toBe(1005);
  });

  it('never puts more than the limit in a one-second window, however a stall bunches the pushes and wherever in its round trip each arrives', () => {
    const { sentAt, answeredAt } = sendAll(new SendWindow(Q, 1000), slots.map(stalled), rtt);

    // Each push arrives at the gateway some time between leaving and its answer: the worst cases for a fixed window.
    for (const where of [0, 1, 0.5]) {
      expect(busiestWindow(sentAt, (i) => where * (answeredAt[i]! - sentAt[i]!))).toBeLessThanOrEqual(Q);
    }
    expect(busiestWindow(sentAt, (i) => (i % 2 === 0 ? 0 : answeredAt[i]! - sentAt[i]!))).toBeLessThanOrEqual(Q);
    expect(busiestWindow(sentAt, (i) => (i % 2 === 1 ? 0 : answeredAt[i]! - sentAt[i]!))).toBeLessThanOrEqual(Q);
    // The slow ones arrive last thing, the others at once.
    expect(busiestWindow(sentAt, (i) => (rtt(i) > 50 ? answeredAt[i]! - sentAt[i]! : 0))).toBeLessThanOrEqual(Q);
    // And the stall costs no pushes: all of them leave, at most a second behind their slots.
    expect(sentAt.length).toBe(slots.length);
    expect(Math.max(...sentAt.map((t, i) => t - slots[i]!))).toBeLessThan(1000);
  });

  it('counts a push from its answer, not from when it left: a slow one may arrive in the next window', () => {
    // Push 0 leaves at 950 and arrives at 1,049 (answered at 1,050); push 1 leaves and arrives at 1,100. Counted
    // from its send, push 0 would let push 2 leave at 1,950: three arrivals in [1,000, 2,000) with a limit of 2.
    const arrivals = [1049, 1100];
    const { sentAt } = sendAll(new SendWindow(2, 1000), [950, 1100, 1100], (i) => [100, 1, 1][i]!);
    expect(sentAt.slice(0, 2)).toEqual([950, 1100]);
    arrivals.push(sentAt[2]!); // arrives as it leaves
    expect(busiestWindow(arrivals)).toBeLessThanOrEqual(2);
  });

  it('without the guard the same stall overfills a window (the test can tell)', () => {
    expect(busiestWindow(slots.map(stalled))).toBeGreaterThan(Q);
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new SendWindow(0, 1000)).toThrow(/positive integer/);
  });
});

describe('SlotRun', () => {
  it('covers the stretch of contiguous claims, and restarts when a claim does not follow the last', () => {
    const run = new SlotRun();
    expect(run.covers(0, 0)).toBe(false);
    run.claimed(1000, 10, 20); // slots 1000 .. 1180, next 1200
    run.claimed(1200, 10, 20); // contiguous: up to 1400
    expect(run.covers(1000, 1399)).toBe(true);
    expect(run.covers(999, 1300)).toBe(false);
    expect(run.covers(1100, 1400)).toBe(false);
    run.claimed(1420, 5, 20); // another replica took slot 1400
    expect(run.covers(1200, 1450)).toBe(false);
    expect(run.covers(1420, 1500)).toBe(true);
  });

  it('ends at a claim made while the budget was shared, keeping the slots claimed alone, and starts again alone', () => {
    const run = new SlotRun();
    run.claimed(1000, 10, 20);
    run.claimed(1200, 10, 20, false); // contiguous, but another replica pushed on the budget lately
    expect(run.covers(1000, 1199)).toBe(true); // the slots claimed alone may still be sent late
    expect(run.covers(1100, 1300)).toBe(false);
    run.claimed(1400, 10, 20); // alone again: a run of its own from here
    expect(run.covers(1400, 1599)).toBe(true);
    expect(run.covers(1399, 1500)).toBe(false);
  });

  it('ignores an empty claim', () => {
    const run = new SlotRun();
    run.claimed(0, 5, 20);
    run.claimed(5000, 0, 20);
    expect(run.covers(0, 99)).toBe(true);
  });
});
