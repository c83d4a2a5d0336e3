/**
 * Shares one read among callers that ask for the same key at once, without ever answering from a read that began
 * before the caller asked. A call that finds no read in flight for its key starts one. A call that finds one in
 * flight waits for it to settle and then for the next read, which every caller that arrived meanwhile shares. So
 * each answer is read after its request arrived (an operator who just acted sees it), one key has one read running,
 * and under N concurrent callers the store sees about two reads per read's duration, not N.
 * A failed read fails the callers that shared it; the next call starts afresh. A read still running after
 * `deadlineMs` stops holding its key: its callers keep waiting for it, but those queued behind it, and later
 * calls, get a read of their own (a hung statement must not stall every dashboard).
 * `read` must not call get() for its own key.
 */
export class FreshCoalescer<V> {
  private readonly flights = new Map<string, Flight<V>>();

  constructor(private readonly deadlineMs: number) {}

  get(key: string, read: () => Promise<V>): Promise<V> {
    const flight = this.flights.get(key);
    if (flight === undefined) return this.start(key, read);
    // The read in flight began before this call: wait for the one after it.
    flight.queued ??= deferred(read);
    return flight.queued.promise;
  }

  /** Keys with a read in flight (for tests). */
  get inFlight(): number {
    return this.flights.size;
  }

  private start(key: string, read: () => Promise<V>): Promise<V> {
    const flight: Flight<V> = { queued: null };
    const result = (async () => read())();
    this.flights.set(key, flight);
    const deadline = setTimeout(() => this.handOver(key, flight), this.deadlineMs);
    deadline.unref();
    // One continuation decides, in one job, between the queued read and none: no call can slip in between.
    void result.then(noop, noop).then(() => {
      clearTimeout(deadline);
      this.handOver(key, flight);
    });
    return result;
  }

  /** The flight is done with its key (settled or past its deadline): start its queued read, or free the key. */
  private handOver(key: string, flight: Flight<V>): void {
    if (this.flights.get(key) !== flight) return;
    const queued = flight.queued;
    if (queued === null) {
      this.flights.delete(key);
      return;
    }
    flight.queued = null;
    this.start(key, queued.read).then(queued.resolve, queued.reject);
  }
}

interface Queued<V> {
  read: () => Promise<V>;
  promise: Promise<V>;
  resolve: (v: V) => void;
  reject: (e: unknown) => void;
}
interface Flight<V> {
  queued: Queued<V> | null;
}

function deferred<V>(read: () => Promise<V>): Queued<V> {
  let resolve!: (v: V) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<V>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { read, promise, resolve, reject };
}

const noop = (): void => undefined;
