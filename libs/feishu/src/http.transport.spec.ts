import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeHttpTransport } from './http.transport';

/** A real server on 127.0.0.1 answering with `handler`; records what it was sent. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const received: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const request = (url: string) => ({ url: `${url}/open-apis/x?user_id_type=open_id`, headers: { authorization: 'Bearer t-1' }, body: { a: 1 }, timeoutMs: 1000 });

describe('NodeHttpTransport', () => {
  const servers: { close(): Promise<void> }[] = [];
  const server = async (handler: Parameters<typeof serve>[0]) => {
    const s = await serve(handler);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('POSTs JSON and returns status, lower-case headers and the parsed body', async () => {
    const s = await server((_req, res) => {
      res.setHeader('X-Tt-Logid', 'log-1');
      res.end('{"code":0,"msg":"ok"}');
    });

    const result = await new NodeHttpTransport().postJson(request(s.url));

    expect(result).toMatchObject({ kind: 'response', status: 200, json: { code: 0, msg: 'ok' } });
    expect(result.kind === 'response' && result.headers['x-tt-logid']).toBe('log-1');
    expect(s.received[0]).toMatchObject({ method: 'POST', url: '/open-apis/x?user_id_type=open_id', body: '{"a":1}' });
    expect(s.received[0]!.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', authorization: 'Bearer t-1', 'content-length': '7' });
  });

  it('keeps the connection alive across requests', async () => {
    const ports = new Set<number>();
    const s = await server((req, res) => {
      ports.add(req.socket.remotePort!);
      res.end('{"code":0}');
    });
    const sut = new NodeHttpTransport();

    for (let i = 0; i < 3; i++) expect(await sut.postJson(request(s.url))).toMatchObject({ json: { code: 0 } });

    expect(ports.size).toBe(1);
  });

  it.each([
    ['an HTML error page', '<html>bad gateway</html>'],
    ['an empty body', ''],
  ])('returns json null for %s', async (_name, text) => {
    const s = await server((_req, res) => {
      res.statusCode = 502;
      res.end(text);
    });

    expect(await new NodeHttpTransport().postJson(request(s.url))).toEqual({ kind: 'response', status: 502, headers: expect.any(Object), json: null });
  });

  it('returns a timeout when no answer comes in time', async () => {
    const s = await server(() => undefined); // never answers

    expect(await new NodeHttpTransport().postJson({ ...request(s.url), timeoutMs: 50 })).toEqual({ kind: 'network_error', reason: 'timeout', message: 'timed out after 50 ms' });
  });

  it('returns a timeout when the body stalls after the headers', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"code":');
    });

    expect(await new NodeHttpTransport().postJson({ ...request(s.url), timeoutMs: 50 })).toEqual({ kind: 'network_error', reason: 'timeout', message: 'timed out after 50 ms' });
  });

  it('returns a network error with the socket error code, not the raw message', async () => {
    const s = await server(() => undefined);
    const url = s.url;
    await s.close(); // nothing listens on the port any more

    expect(await new NodeHttpTransport().postJson(request(url))).toEqual({ kind: 'network_error', reason: 'network', message: 'network error: ECONNREFUSED' });
  });

  it('returns a network error when the connection drops mid-body', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"code":0');
      setImmediate(() => res.socket?.destroy());
    });

    expect(await new NodeHttpTransport().postJson(request(s.url))).toEqual({ kind: 'network_error', reason: 'network', message: 'network error: ECONNRESET' });
  });

  it('does not throw for a URL it cannot use, and does not echo it', async () => {
    const sut = new NodeHttpTransport();

    for (const url of ['not a url with Bearer t-1', 'ftp://feishu.test/Bearer-t-1']) {
      const result = await sut.postJson({ ...request('http://x'), url });
      expect(result).toMatchObject({ kind: 'network_error', reason: 'network' });
      expect(JSON.stringify(result)).not.toContain('t-1');
    }
  });
});

describe('NodeHttpTransport hardening', () => {
  const servers: { close(): Promise<void> }[] = [];
  const server = async (handler: Parameters<typeof serve>[0]) => {
    const s = await serve(handler);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('does not follow a redirect: the target is never called, and the 3xx comes back unparsed even when its body looks like success', async () => {
    const target = await server((_req, res) => res.end('{"code":0,"msg":"ok"}'));
    const redirector = await server((_req, res) => {
      res.statusCode = 307;
      res.setHeader('location', `${target.url}/`);
      res.end('{"code":0,"msg":"ok"}');
    });

    const result = await new NodeHttpTransport().postJson(request(redirector.url));

    expect(result).toMatchObject({ kind: 'response', status: 307, json: null });
    expect(target.received).toHaveLength(0);
  });

  it('stops reading a body past the limit, without buffering it whole', async () => {
    let written = 0;
    let closed = false;
    // Up to 8 MiB in 64 KiB chunks, written as the client reads (finite, so a transport that reads it all fails
    // the test instead of hanging it).
    const s = await server((_req, res) => {
      res.writeHead(200);
      res.on('close', () => (closed = true));
      const more = () => {
        while (written < 128 && !closed) {
          written++;
          if (!res.write(Buffer.alloc(64 * 1024, 0x20))) return res.once('drain', more);
        }
        res.end();
      };
      more();
    });

    const result = await new NodeHttpTransport({ maxResponseBytes: 1024 * 1024 }).postJson(request(s.url));

    expect(result).toEqual({ kind: 'response', status: 200, headers: expect.any(Object), json: null, bodyTooLarge: true });
    expect(written).toBeLessThan(128);
  });

  it('does not read a body whose declared length is over the limit', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '2048' });
      res.write('{"code":0}');
    });

    expect(await new NodeHttpTransport({ maxResponseBytes: 1024 }).postJson(request(s.url))).toMatchObject({ kind: 'response', status: 200, json: null, bodyTooLarge: true });
  });

  it('reads a body at the limit', async () => {
    const text = `{"code":0,"msg":"${'x'.repeat(1024 - 20)}"}`;
    const s = await server((_req, res) => res.end(text));

    expect(await new NodeHttpTransport({ maxResponseBytes: Buffer.byteLength(text) }).postJson(request(s.url))).toMatchObject({ kind: 'response', json: { code: 0 } });
  });
});
