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
    const c = new FreshCoalescer<number>();
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
    const c = new FreshCoalescer<number>();
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
    const c = new FreshCoalescer<number>();
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
    const c = new FreshCoalescer<number>();
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

  it('model: every answer comes from a read started after its call; at most one read per key runs', async () => {
    // Steps: a call on key 0 or 1, or settling the oldest running read of a key.
    const step = fc.oneof(fc.record({ call: fc.integer({ min: 0, max: 1 }) }), fc.record({ settle: fc.integer({ min: 0, max: 1 }) }));
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const c = new FreshCoalescer<number>();
        let clock = 0;
        const running: Array<Array<{ key: number; startedAt: number; resolve: (v: number) => void }>> = [[], []];
        const answers: Array<{ calledAt: number; p: Promise<number> }> = [];
        const readOf = (key: number) => () =>
          new Promise<number>((resolve) => {
            running[key].push({ key, startedAt: ++clock, resolve });
          });
        for (const s of steps) {
          if ('call' in s) {
            answers.push({ calledAt: ++clock, p: c.get(String(s.call), readOf(s.call)) });
          } else {
            const r = running[s.settle].shift();
            if (r) r.resolve(r.startedAt);
          }
          await flush();
          for (const k of [0, 1]) expect(running[k].length).toBeLessThanOrEqual(1);
        }
        // Drain: settle whatever runs until nothing does.
        for (let guard = 0; guard < 100 && (running[0].length || running[1].length); guard++) {
          for (const k of [0, 1]) {
            const r = running[k].shift();
            if (r) r.resolve(r.startedAt);
          }
          await flush();
        }
        for (const a of answers) expect(await a.p).toBeGreaterThan(a.calledAt);
      }),
      { numRuns: 300 },
    );
  });
});
