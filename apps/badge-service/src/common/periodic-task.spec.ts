import { jittered, PassOutcome, PeriodicTask, PeriodicTaskOptions } from './periodic-task';

/** A log that records what it is told. */
function recordingLog() {
  const lines: { level: 'warn' | 'error'; fields: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    warn: (fields: object, message: string) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
    error: (fields: object, message: string) => lines.push({ level: 'error', fields: fields as Record<string, unknown>, message }),
  };
}

/** A pass the test ends by hand. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('PeriodicTask', () => {
  let timers: NodeJS.Timeout[];

  beforeEach(() => {
    jest.useFakeTimers();
    timers = [];
    const fake = global.setTimeout;
    jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = fake(fn, ms);
      timers.push(t);
      return t;
    }) as typeof setTimeout);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  const task = <T>(o: Partial<PeriodicTaskOptions<T>> & Pick<PeriodicTaskOptions<T>, 'run'>) =>
    new PeriodicTask<T>({ name: 'job', firstDelayMs: () => 100, nextDelayMs: () => 1000, log: recordingLog(), ...o });

  it('runs first after the first delay, then each delay after the end of the last pass: passes never overlap', async () => {
    const starts: number[] = [];
    let pass = deferred<void>();
    const sut = task({
      run: () => {
        starts.push(Date.now());
        return pass.promise;
      },
    });
    const t0 = Date.now();
    sut.start();

    await jest.advanceTimersByTimeAsync(99);
    expect(starts).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([t0 + 100]);
    // A slow pass: 5 s, five times the delay, and no second pass starts meanwhile.
    await jest.advanceTimersByTimeAsync(5000);
    expect(starts).toHaveLength(1);
    pass.resolve();
    pass = deferred<void>();
    await jest.advanceTimersByTimeAsync(999);
    expect(starts).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([t0 + 100, t0 + 6100]);
    const stopping = sut.stop();
    pass.resolve();
    await stopping;
  });

  it('logs a failed pass with its name and the delay, and goes on; the next delay is told how the pass ended', async () => {
    const log = recordingLog();
    const seen: PassOutcome<number>[] = [];
    const boom = new Error('database down');
    let n = 0;
    const sut = task<number>({
      log,
      run: async () => {
        if (++n === 1) throw boom;
        return n;
      },
      nextDelayMs: (o) => {
        seen.push(o);
        return o.ok ? 1000 : 60;
      },
    });
    sut.start();

    await jest.advanceTimersByTimeAsync(100);
    expect(seen).toEqual([{ ok: false, error: boom }]);
    expect(log.lines).toEqual([{ level: 'error', fields: { err: boom, nextPassInMs: 60 }, message: 'job failed' }]);
    await jest.advanceTimersByTimeAsync(60);
    expect(seen).toEqual([{ ok: false, error: boom }, { ok: true, value: 2 }]);
    expect(log.lines).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1000);
    expect(n).toBe(3);
    await sut.stop();
  });

  it('logs at the level asked for', async () => {
    const log = recordingLog();
    const sut = task({ log, failureLevel: 'warn', run: () => Promise.reject(new Error('x')) });
    sut.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(log.lines.map((l) => l.level)).toEqual(['warn']);
    await sut.stop();
  });

  it('stop() aborts the running pass, waits for it to end, and no pass follows', async () => {
    const pass = deferred<void>();
    let signal: AbortSignal | undefined;
    let runs = 0;
    const sut = task({
      run: (s) => {
        runs++;
        signal = s;
        return pass.promise;
      },
    });
    sut.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(signal?.aborted).toBe(false);

    let stopped = false;
    const stopping = sut.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(signal?.aborted).toBe(true);
    expect(stopped).toBe(false);
    pass.resolve();
    await stopping;
    expect(stopped).toBe(true);

    await jest.advanceTimersByTimeAsync(10_000);
    expect(runs).toBe(1);
  });

  it('stop() before the first pass cancels it', async () => {
    const run = jest.fn(async () => undefined);
    const sut = task({ run });
    sut.start();
    await sut.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(run).not.toHaveBeenCalled();
  });

  it('keeps no timer referenced: a task never holds the process open', async () => {
    const sut = task({ run: async () => undefined });
    sut.start();
    await jest.advanceTimersByTimeAsync(100 + 1000);
    expect(timers.length).toBeGreaterThanOrEqual(2);
    expect(timers.map((t) => t.hasRef())).toEqual(timers.map(() => false));
    await sut.stop();
  });
});

describe('jittered', () => {
  it('spreads the interval over ± the jitter', () => {
    expect(jittered(3_600_000, 0.1, 0)).toBe(3_240_000);
    expect(jittered(3_600_000, 0.1, 0.5)).toBe(3_600_000);
    expect(jittered(3_600_000, 0.1, 0.999999)).toBe(3_959_999);
  });
});
