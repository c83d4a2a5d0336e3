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

describe('FetchHttpTransport hardening', () => {
  it('asks fetch not to follow redirects, and returns a 3xx unparsed even when its body looks like success', async () => {
    const fetch = fakeFetch(async () => new Response('{"code":0,"msg":"ok"}', { status: 302, headers: { location: 'https://elsewhere.test/' } }));
    const sut = new FetchHttpTransport(fetch.fn);

    const result = await sut.postJson(request);

    expect(fetch.calls[0]![1]?.redirect).toBe('manual');
    expect(result).toMatchObject({ kind: 'response', status: 302, json: null });
  });

  it('does not follow a real redirect: the target is never called', async () => {
    const { createServer } = await import('node:http');
    let targetHits = 0;
    const target = createServer((_req, res) => {
      targetHits++;
      res.setHeader('content-type', 'application/json');
      res.end('{"code":0,"msg":"ok"}');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/`;
    const redirector = createServer((_req, res) => {
      res.statusCode = 307;
      res.setHeader('location', targetUrl);
      res.end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    try {
      const sut = new FetchHttpTransport();
      const result = await sut.postJson({ ...request, url: `http://127.0.0.1:${(redirector.address() as { port: number }).port}/open-apis/x` });

      expect(result).toMatchObject({ kind: 'response', status: 307, json: null });
      expect(targetHits).toBe(0);
    } finally {
      await new Promise((r) => redirector.close(r));
      await new Promise((r) => target.close(r));
    }
  });

  it('stops reading a body past the limit, without buffering it whole', async () => {
    let pulled = 0;
    let cancelled = false;
    // 8 MiB in 64 KiB chunks (finite, so a transport that reads it all fails the test instead of hanging it).
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 128) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
      cancel() {
        cancelled = true;
      },
    });
    const sut = new FetchHttpTransport(fakeFetch(async () => new Response(endless, { status: 200 })).fn, { maxResponseBytes: 1024 * 1024 });

    const result = await sut.postJson(request);

    expect(result).toEqual({ kind: 'response', status: 200, headers: expect.any(Object), json: null, bodyTooLarge: true });
    expect(cancelled).toBe(true);
    expect(pulled).toBeLessThanOrEqual(1024 / 64 + 2);
  });

  it('does not read a body whose declared length is over the limit', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new TextEncoder().encode('{"code":0}'));
        controller.close();
      },
    });
    const res = new Response(body, { status: 200, headers: { 'content-length': String(2048) } });
    const sut = new FetchHttpTransport(fakeFetch(async () => res).fn, { maxResponseBytes: 1024 });

    expect(await sut.postJson(request)).toMatchObject({ kind: 'response', status: 200, json: null, bodyTooLarge: true });
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('reads a body at the limit', async () => {
    const text = `{"code":0,"msg":"${'x'.repeat(1024 - 20)}"}`;
    const sut = new FetchHttpTransport(fakeFetch(async () => new Response(text, { status: 200 })).fn, { maxResponseBytes: Buffer.byteLength(text) });

    expect(await sut.postJson(request)).toMatchObject({ kind: 'response', json: { code: 0 } });
  });
});
