/**
 * Shares one read among callers that ask for the same key at once, without ever answering from a read that began
 * before the caller asked. A call that finds no read in flight for its key starts one. A call that finds one in
 * flight waits for it to settle and then for the next read, which every caller that arrived meanwhile shares. So
 * each answer is read after its request arrived (an operator who just acted sees it), one key never has more than
 * one read running, and under N concurrent callers the store sees about two reads per read's duration, not N.
 * A failed read fails the callers that shared it; the next call starts afresh.
 */
export class FreshCoalescer<V> {
  private readonly flights = new Map<string, { settled: Promise<void>; next: Promise<V> | null }>();

  get(key: string, read: () => Promise<V>): Promise<V> {
    const flight = this.flights.get(key);
    if (flight === undefined) return this.start(key, read);
    // The read in flight began before this call: wait for the one after it.
    flight.next ??= flight.settled.then(() => this.start(key, read));
    return flight.next;
  }

  /** Keys with a read in flight (for tests). */
  get inFlight(): number {
    return this.flights.size;
  }

  private start(key: string, read: () => Promise<V>): Promise<V> {
    const result = (async () => read())();
    const flight = { settled: result.then(noop, noop), next: null as Promise<V> | null };
    this.flights.set(key, flight);
    // Runs before a queued read's start (registered first, same settling), which then puts its own flight in.
    void flight.settled.then(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    return result;
  }
}

const noop = (): void => undefined;
