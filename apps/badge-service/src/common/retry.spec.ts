import { backoffMs, retry } from './retry';

/** Random fixed at 0.5, sleeps recorded and instant (an abort during one is the test's to make). */
function fakeClock(onSleep: (ms: number) => void = () => undefined) {
  const slept: number[] = [];
  return {
    slept,
    random: () => 0.5,
    sleep: async (ms: number) => {
      slept.push(ms);
      onSleep(ms);
    },
  };
}

/** Fails `failures` times with the given errors, then returns 'done'. */
function flaky(...failures: Error[]) {
  const calls: number[] = [];
  return {
    calls,
    fn: async (attempt: number) => {
      calls.push(attempt);
      if (calls.length <= failures.length) throw failures[calls.length - 1];
      return 'done';
    },
  };
}

describe('retry', () => {
  it('tries until it succeeds, waiting the full-jitter backoff of each attempt in between', async () => {
    const clock = fakeClock();
    const op = flaky(new Error('a'), new Error('b'), new Error('c'));
    expect(await retry(op.fn, { baseMs: 100, capMs: 2000, clock })).toBe('done');
    expect(op.calls).toEqual([0, 1, 2, 3]);
    expect(clock.slept).toEqual([0, 1, 2].map((a) => backoffMs(a, 100, 2000, () => 0.5)));
    expect(clock.slept).toEqual([50, 100, 200]);
  });

  it('rethrows the failure shouldRetry refuses, without waiting for it', async () => {
    const clock = fakeClock();
    const fatal = new Error('fatal');
    const op = flaky(new Error('transient'), fatal);
    const seen: [string, number][] = [];
    const shouldRetry = (e: unknown, attempt: number) => {
      seen.push([(e as Error).message, attempt]);
      return e !== fatal;
    };
    await expect(retry(op.fn, { baseMs: 100, capMs: 2000, clock, shouldRetry })).rejects.toBe(fatal);
    expect(seen).toEqual([['transient', 0], ['fatal', 1]]);
    expect(clock.slept).toEqual([50]);
  });

  it('tells onRetry of each failure retried, with the wait', async () => {
    const clock = fakeClock();
    const told: [string, number, number][] = [];
    await retry(flaky(new Error('a'), new Error('b')).fn, { baseMs: 100, capMs: 2000, clock, onRetry: (e, attempt, ms) => told.push([(e as Error).message, attempt, ms]) });
    expect(told).toEqual([['a', 0, 50], ['b', 1, 100]]);
  });

  it('stops at an abort: during the wait, the last failure is rethrown and no attempt follows', async () => {
    const stop = new AbortController();
    const clock = fakeClock(() => stop.abort());
    const last = new Error('broker down');
    const op = flaky(last, new Error('never reached'));
    await expect(retry(op.fn, { baseMs: 100, capMs: 2000, clock, signal: stop.signal })).rejects.toBe(last);
    expect(op.calls).toEqual([0]);
  });

  it('does not retry at all once aborted', async () => {
    const stop = new AbortController();
    stop.abort();
    const clock = fakeClock();
    const op = flaky(new Error('x'));
    await expect(retry(op.fn, { baseMs: 100, capMs: 2000, clock, signal: stop.signal })).rejects.toThrow('x');
    expect(clock.slept).toEqual([]);
  });
});

describe('backoffMs', () => {
  it('doubles from the base up to the cap, and never waits less than half the base', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((a) => backoffMs(a, 100, 2000, () => 0.999999))).toEqual([99, 199, 399, 799, 1599, 1999, 1999]);
    expect(backoffMs(3, 100, 2000, () => 0)).toBe(50);
  });
});
