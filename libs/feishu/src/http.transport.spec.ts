import { FetchHttpTransport } from './http.transport';

type FetchArgs = Parameters<typeof globalThis.fetch>;

/** A fetch that records its calls and answers with the given function; nothing leaves the process. */
function fakeFetch(answer: (init: RequestInit) => Promise<Response>) {
  const calls: FetchArgs[] = [];
  const fn = ((input: FetchArgs[0], init?: FetchArgs[1]) => {
    calls.push([input, init]);
    return answer(init ?? {});
  }) as typeof globalThis.fetch;
  return { fn, calls };
}

const request = { url: 'http://feishu.test/open-apis/x', headers: { authorization: 'Bearer t-1' }, body: { a: 1 }, timeoutMs: 1000 };

describe('FetchHttpTransport', () => {
  it('POSTs JSON and returns status, lower-case headers and the parsed body', async () => {
    const fetch = fakeFetch(async () => new Response('{"code":0,"msg":"ok"}', { status: 200, headers: { 'X-Tt-Logid': 'log-1' } }));
    const sut = new FetchHttpTransport(fetch.fn);

    const result = await sut.postJson(request);

    expect(result).toMatchObject({ kind: 'response', status: 200, json: { code: 0, msg: 'ok' } });
    expect(result.kind === 'response' && result.headers['x-tt-logid']).toBe('log-1');
    const [url, init] = fetch.calls[0]!;
    expect(url).toBe(request.url);
    expect(init?.method).toBe('POST');
    expect(init?.body).toBe('{"a":1}');
    expect(init?.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', authorization: 'Bearer t-1' });
    expect(init?.signal).toBeInstanceOf(AbortSignal);
  });

  it.each([
    ['an HTML error page', '<html>bad gateway</html>'],
    ['an empty body', ''],
  ])('returns json null for %s', async (_name, text) => {
    const sut = new FetchHttpTransport(fakeFetch(async () => new Response(text, { status: 502 })).fn);

    expect(await sut.postJson(request)).toEqual({ kind: 'response', status: 502, headers: expect.any(Object), json: null });
  });

  it('returns a timeout when the signal fires', async () => {
    // Waits for the transport's own AbortSignal.timeout, as undici does.
    const fetch = fakeFetch(
      (init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const sut = new FetchHttpTransport(fetch.fn);

    expect(await sut.postJson({ ...request, timeoutMs: 5 })).toEqual({ kind: 'network_error', reason: 'timeout', message: 'timed out after 5 ms' });
  });

  it('returns a network error with the socket error code, not the raw message', async () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const sut = new FetchHttpTransport(fakeFetch(async () => Promise.reject(new TypeError('fetch failed', { cause }))).fn);

    expect(await sut.postJson(request)).toEqual({ kind: 'network_error', reason: 'network', message: 'network error: ECONNREFUSED' });
  });

  it('does not throw whatever fetch rejects with', async () => {
    const sut = new FetchHttpTransport(fakeFetch(async () => Promise.reject('a string with Bearer t-1')).fn);

    const result = await sut.postJson(request);

    expect(result).toEqual({ kind: 'network_error', reason: 'network', message: 'network error: unknown' });
  });
});
