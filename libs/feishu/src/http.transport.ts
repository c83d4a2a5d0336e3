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
  /** Parsed body, or null when it is empty, not JSON, too large, or the answer is a redirect. */
  readonly json: unknown;
  /** The body passed the transport's limit and was not read. */
  readonly bodyTooLarge?: boolean;
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

export interface FetchHttpTransportOptions {
  /** A bigger body is not read: the answer comes back with json null and bodyTooLarge. Default 1 MiB. */
  readonly maxResponseBytes?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Node's fetch, hardened: redirects are never followed (Feishu's API does not redirect; a redirect means a wrong
 * base URL or a proxy's login page, and following it would send the token elsewhere) and come back as the 3xx they
 * are; a body over the limit is neither buffered nor parsed. Proxies: Node 24 honours HTTPS_PROXY/NO_PROXY for
 * fetch when NODE_USE_ENV_PROXY=1 is set (see the README).
 */
export class FetchHttpTransport implements HttpTransport {
  private readonly maxResponseBytes: number;

  constructor(
    private readonly fetchFn: FetchFn = globalThis.fetch.bind(globalThis),
    options: FetchHttpTransportOptions = {},
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  async postJson(request: HttpPostRequest): Promise<HttpPostResult> {
    const signal = AbortSignal.timeout(request.timeoutMs);
    try {
      const res = await this.fetchFn(request.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...request.headers },
        body: JSON.stringify(request.body),
        redirect: 'manual',
        signal,
      });
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel().catch(() => undefined);
        return { kind: 'response', status: res.status, headers, json: null };
      }
      // The body is read under the same signal, so a stalled body also times out.
      const text = await readCapped(res, this.maxResponseBytes);
      if (text === null) return { kind: 'response', status: res.status, headers, json: null, bodyTooLarge: true };
      return { kind: 'response', status: res.status, headers, json: parseJson(text) };
    } catch (err) {
      return toNetworkError(err, signal.aborted, request.timeoutMs);
    }
  }
}

/** The body as text, or null (and the rest left unread) once it passes `max` bytes. */
async function readCapped(res: Response, max: number): Promise<string | null> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
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
