import fc from 'fast-check';
import { FreshCoalescer } from './fresh-coalescer';

/** A read whose settling the test controls; `n` counts the reads started. */
function controlledReads() {
  const pending: Array<{ resolve: (v: number) => void; reject: (e: Error) => void }> = [];
  let n = 0;
  const read = () =>
    new Promise<number>((resolve, reject) => {
      n++;
      pending.push({ resolve, reject });
    });
  return { read, pending, started: () => n };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('FreshCoalescer', () => {
  it('one caller, one read', async () => {
    const c = new FreshCoalescer<number>(60_000);
    const r = controlledReads();
    const p = c.get('k', r.read);
    await flush();
    r.pending[0].resolve(7);
    await expect(p).resolves.toBe(7);
    expect(r.started()).toBe(1);
    await flush();
    expect(c.inFlight).toBe(0);
  });

  it('callers arriving during a read share the next read, never the one already running', async () => {
    const c = new FreshCoalescer<number>(60_000);
    const r = controlledReads();
    const first = c.get('k', r.read);
    await flush();
    const late = [c.get('k', r.read), c.get('k', r.read), c.get('k', r.read)];
    expect(r.started()).toBe(1);
    r.pending[0].resolve(1); // read before the late callers asked
    await expect(first).resolves.toBe(1);
    await flush();
    expect(r.started()).toBe(2);
    r.pending[1].resolve(2);
    await expect(Promise.all(late)).resolves.toEqual([2, 2, 2]);
  });

  it('keys do not share reads', async () => {
    const c = new FreshCoalescer<number>(60_000);
    const r = controlledReads();
    const a = c.get('a', r.read);
    const b = c.get('b', r.read);
    await flush();
    expect(r.started()).toBe(2);
    r.pending[0].resolve(1);
    r.pending[1].resolve(2);
    await expect(Promise.all([a, b])).resolves.toEqual([1, 2]);
  });

  it('a failed read fails its callers only; the next call reads again', async () => {
    const c = new FreshCoalescer<number>(60_000);
    const r = controlledReads();
    const first = c.get('k', r.read);
    await flush();
    const late = c.get('k', r.read);
    r.pending[0].reject(new Error('gone'));
    await expect(first).rejects.toThrow('gone');
    await flush();
    r.pending[1].resolve(5);
    await expect(late).resolves.toBe(5);
    await flush();
    const again = c.get('k', r.read);
    await flush();
    r.pending[2].resolve(6);
    await expect(again).resolves.toBe(6);
  });

  it('a call in the same microtask drain as a read settling still never runs a second read for its key', async () => {
    // The review's interleaving: callers scheduled from the settled answer's own continuation.
    const c = new FreshCoalescer<number>(60_000);
    let active = 0;
    let peak = 0;
    const read = () => {
      peak = Math.max(peak, ++active);
      return Promise.resolve(1).finally(() => active--);
    };
    const calls: Promise<number>[] = [];
    await c.get('k', read).then(() => {
      queueMicrotask(() => calls.push(c.get('k', read)));
      calls.push(c.get('k', read));
    });
    await flush();
    await Promise.all(calls);
    expect(peak).toBe(1);
  });

  it('a read past its deadline stops holding the key: queued and later calls read on their own, its callers still wait', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const c = new FreshCoalescer<number>(5_000);
      const r = controlledReads();
      let stuckSettled = false;
      const stuck = c.get('k', r.read).then((v) => ((stuckSettled = true), v));
      await flush();
      const queued = c.get('k', r.read);
      jest.advanceTimersByTime(4_999);
      await flush();
      expect(r.started()).toBe(1);
      jest.advanceTimersByTime(1);
      await flush();
      expect(r.started()).toBe(2); // the queued call's own read
      r.pending[1].resolve(2);
      await expect(queued).resolves.toBe(2);
      await flush();
      const later = c.get('k', r.read);
      await flush();
      expect(r.started()).toBe(3);
      r.pending[2].resolve(3);
      await expect(later).resolves.toBe(3);
      expect(stuckSettled).toBe(false);
      r.pending[0].resolve(1); // settles at last: its caller gets it, and it frees nothing it no longer holds
      await expect(stuck).resolves.toBe(1);
      await flush();
      expect(c.inFlight).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('model: every answer comes from a read started after its call; at most one read per key runs; keys are freed', async () => {
    // Steps: a call on key 0 or 1, or settling the oldest running read of a key (resolving or failing it); after
    // each, the event loop turns, or only a few microtasks run, or none (so calls land inside settle chains).
    const step = fc.record({
      act: fc.oneof(fc.record({ call: fc.integer({ min: 0, max: 1 }) }), fc.record({ settle: fc.integer({ min: 0, max: 1 }), fail: fc.boolean() })),
      yieldTo: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 6 })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const c = new FreshCoalescer<number>(60_000);
        let clock = 0;
        const active = [0, 0];
        const running: Array<Array<{ startedAt: number; settle: (fail: boolean) => void }>> = [[], []];
        const answers: Array<{ calledAt: number; p: Promise<number> }> = [];
        const readOf = (key: number) => () => {
          expect(active[key]).toBe(0);
          active[key]++;
          return new Promise<number>((resolve, reject) => {
            const startedAt = ++clock;
            running[key].push({ startedAt, settle: (fail) => (active[key]--, fail ? reject(new Error(`read ${startedAt}`)) : resolve(startedAt)) });
          });
        };
        const turn = async (n: number) => {
          if (n < 0) await flush();
          else for (let i = 0; i < n; i++) await Promise.resolve();
        };
        for (const { act, yieldTo } of steps) {
          if ('call' in act) {
            const calledAt = ++clock;
            const p = c.get(String(act.call), readOf(act.call));
            p.catch(() => undefined);
            answers.push({ calledAt, p });
          } else running[act.settle].shift()?.settle(act.fail);
          await turn(yieldTo);
        }
        // Drain: let queued reads start, settle what runs, until nothing does.
        for (let guard = 0; guard < 100; guard++) {
          await flush();
          if (running[0].length === 0 && running[1].length === 0) break;
          for (const k of [0, 1]) running[k].shift()?.settle(false);
        }
        const settled = answers.map((a) => {
          const box = { done: false };
          a.p.then(() => (box.done = true), () => (box.done = true));
          return box;
        });
        await flush();
        expect(settled.map((b) => b.done)).not.toContain(false); // none left hanging
        for (const a of answers) {
          // A failed read's error names it; either way the read began after the call.
          const got = await a.p.catch((e: Error) => Number(/read (\d+)/.exec(e.message)![1]));
          expect(got).toBeGreaterThan(a.calledAt);
        }
        expect(c.inFlight).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
