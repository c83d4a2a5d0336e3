export type HttpHeaders = Readonly<Record<string, string>>;

export interface HttpPostRequest {
  readonly url: string;
  readonly headers?: HttpHeaders;
  /** Serialised with JSON.stringify. */
  readonly body: unknown;
  readonly timeoutMs: number;
}

export type HttpPostResult = HttpResponse | HttpNetworkError;

export interface HttpResponse {
  readonly kind: 'response';
  readonly status: number;
  /** Lower-case names. */
  readonly headers: HttpHeaders;
  /** Parsed body, or null when it is empty or not JSON. */
  readonly json: unknown;
}

export interface HttpNetworkError {
  readonly kind: 'network_error';
  readonly reason: 'timeout' | 'network';
  /** Short and free of request data: an error code such as ECONNREFUSED, never the request. */
  readonly message: string;
}

/** POST JSON, get the answer. Implementations never throw for network failures or timeouts: they return them. */
export interface HttpTransport {
  postJson(request: HttpPostRequest): Promise<HttpPostResult>;
}

type FetchFn = typeof globalThis.fetch;

export class FetchHttpTransport implements HttpTransport {
  constructor(private readonly fetchFn: FetchFn = globalThis.fetch.bind(globalThis)) {}

  async postJson(request: HttpPostRequest): Promise<HttpPostResult> {
    const signal = AbortSignal.timeout(request.timeoutMs);
    try {
      const res = await this.fetchFn(request.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...request.headers },
        body: JSON.stringify(request.body),
        signal,
      });
      // The body is read under the same signal, so a stalled body also times out.
      const text = await res.text();
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      return { kind: 'response', status: res.status, headers, json: parseJson(text) };
    } catch (err) {
      return toNetworkError(err, signal.aborted, request.timeoutMs);
    }
  }
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function toNetworkError(err: unknown, timedOut: boolean, timeoutMs: number): HttpNetworkError {
  const name = errorField(err, 'name');
  if (timedOut || name === 'TimeoutError') {
    return { kind: 'network_error', reason: 'timeout', message: `timed out after ${timeoutMs} ms` };
  }
  // undici reports the socket error as `cause` ({code: 'ECONNREFUSED', ...}); its messages may carry the URL.
  const cause = err !== null && typeof err === 'object' ? (err as { cause?: unknown }).cause : undefined;
  const code = errorField(cause, 'code') ?? errorField(err, 'code') ?? name ?? 'unknown';
  return { kind: 'network_error', reason: 'network', message: `network error: ${code}` };
}

function errorField(value: unknown, field: 'name' | 'code'): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' && /^[\w.-]{1,64}$/.test(v) ? v : undefined;
}
