import type { HttpHeaders, HttpPostRequest, HttpPostResult, HttpTransport } from '../http.transport';

export type FakeResponder = HttpPostResult | ((request: HttpPostRequest) => HttpPostResult | Promise<HttpPostResult>);

/**
 * A transport that answers only what a test set up, keyed by URL path. Anything else throws and is remembered,
 * so `verify()` fails the test even when the code under test swallowed the throw.
 */
export class StrictFakeTransport implements HttpTransport {
  readonly calls: HttpPostRequest[] = [];
  private readonly queued = new Map<string, FakeResponder[]>();
  private readonly persistent = new Map<string, FakeResponder>();
  private readonly failures: string[] = [];

  /** Answers the next calls to `path`, one responder per call, in order. */
  on(path: string, ...responders: FakeResponder[]): this {
    this.queued.set(path, [...(this.queued.get(path) ?? []), ...responders]);
    return this;
  }

  /** Answers every call to `path` (after any queued answers are used up). */
  always(path: string, responder: FakeResponder): this {
    this.persistent.set(path, responder);
    return this;
  }

  async postJson(request: HttpPostRequest): Promise<HttpPostResult> {
    this.calls.push(request);
    const path = new URL(request.url).pathname;
    const responder = this.queued.get(path)?.shift() ?? this.persistent.get(path);
    if (responder === undefined) {
      const failure = `StrictFakeTransport: unexpected POST ${path} (call #${this.calls.length})`;
      this.failures.push(failure);
      throw new Error(failure);
    }
    return typeof responder === 'function' ? responder(request) : responder;
  }

  callsTo(path: string): HttpPostRequest[] {
    return this.calls.filter((c) => new URL(c.url).pathname === path);
  }

  /** Throws if an unexpected call happened or a queued answer was never used. */
  verify(): void {
    const unused = [...this.queued].filter(([, rs]) => rs.length > 0).map(([p, rs]) => `${rs.length} unused answer(s) for ${p}`);
    const problems = [...this.failures, ...unused];
    if (problems.length > 0) throw new Error(problems.join('\n'));
  }
}

export function jsonResponse(status: number, json: unknown, headers: HttpHeaders = {}): HttpPostResult {
  return { kind: 'response', status, headers, json };
}

export function networkError(reason: 'timeout' | 'network', message?: string): HttpPostResult {
  const text = message ?? (reason === 'timeout' ? 'timed out after 5000 ms' : 'network error: ECONNRESET');
  return { kind: 'network_error', reason, message: text };
}

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Lets every promise chain already under way run to its end: a fake answer is a resolved promise, so what follows
 * it (a background token refresh, say) is microtasks, all run before the next turn of the event loop. Not a wait
 * for time.
 */
export const settled = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
