import http from 'node:http';
import https from 'node:https';

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

export interface NodeHttpTransportOptions {
  /** A bigger body is not read: the answer comes back with json null and bodyTooLarge. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** Most sockets kept open per host (keep-alive). Default 256. */
  readonly maxSockets?: number;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * node:http / node:https with one keep-alive agent each (fetch's web streams cost more CPU per push than the rest
 * of the push put together), hardened: redirects are never followed (node:http does not follow them; Feishu's API
 * does not redirect, a redirect means a wrong base URL or a proxy's login page, and following it would send the
 * token elsewhere) and come back as the 3xx they are; a body over the limit is neither buffered nor parsed; one
 * timer bounds the whole exchange (connect, request, answer, body). Proxies: with NODE_USE_ENV_PROXY=1 the agents
 * honour HTTPS_PROXY/HTTP_PROXY/NO_PROXY (see the README).
 */
export class NodeHttpTransport implements HttpTransport {
  private readonly maxResponseBytes: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(options: NodeHttpTransportOptions = {}) {
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const proxyEnv = process.env['NODE_USE_ENV_PROXY'] === '1' ? { proxyEnv: process.env } : {};
    const agent = { keepAlive: true, maxSockets: options.maxSockets ?? 256, scheduling: 'lifo' as const, ...proxyEnv };
    this.httpAgent = new http.Agent(agent);
    this.httpsAgent = new https.Agent(agent);
  }

  postJson(request: HttpPostRequest): Promise<HttpPostResult> {
    return new Promise<HttpPostResult>((resolve) => {
      let settled = false;
      const done = (result: HttpPostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      let req: http.ClientRequest | undefined;
      const timer = setTimeout(() => {
        done({ kind: 'network_error', reason: 'timeout', message: `timed out after ${request.timeoutMs} ms` });
        req?.destroy();
      }, request.timeoutMs);
      try {
        const url = new URL(request.url);
        const secure = url.protocol === 'https:';
        if (!secure && url.protocol !== 'http:') return done({ kind: 'network_error', reason: 'network', message: 'network error: unsupported protocol' });
        const body = Buffer.from(JSON.stringify(request.body), 'utf8');
        req = (secure ? https : http).request(url, {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { 'content-type': 'application/json; charset=utf-8', ...request.headers, 'content-length': body.length },
        });
        req.on('error', (err) => done(toNetworkError(err)));
        req.on('response', (res) => this.read(res, done));
        req.end(body);
      } catch (err) {
        // An invalid URL or header: reported by its code, never with the request's data.
        done(toNetworkError(err));
      }
    });
  }

  private read(res: http.IncomingMessage, done: (result: HttpPostResult) => void): void {
    const status = res.statusCode ?? 0;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const redirect = status >= 300 && status < 400;
    const tooLarge = () => {
      done({ kind: 'response', status, headers, json: null, ...(redirect ? {} : { bodyTooLarge: true }) });
      res.destroy();
    };
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxResponseBytes) return tooLarge();
      // A redirect's body is read (so the socket is kept) but never parsed.
      if (!redirect) chunks.push(chunk);
    });
    res.on('end', () => done({ kind: 'response', status, headers, json: redirect ? null : parseJson(Buffer.concat(chunks).toString('utf8')) }));
    // The connection dropped mid-body.
    res.on('error', (err) => done(toNetworkError(err)));
    res.on('close', () => {
      if (!res.complete) done({ kind: 'network_error', reason: 'network', message: 'network error: ECONNRESET' });
    });
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

/** The error's code (ECONNREFUSED, CERT_HAS_EXPIRED, ...), never its message: Node's messages may carry the URL. */
function toNetworkError(err: unknown): HttpNetworkError {
  const code = errorField(err, 'code') ?? errorField(err, 'name') ?? 'unknown';
  return { kind: 'network_error', reason: 'network', message: `network error: ${code}` };
}

function errorField(value: unknown, field: 'name' | 'code'): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' && /^[\w.-]{1,64}$/.test(v) ? v : undefined;
}
