import { CustomAppTokenProvider } from './custom-app-token.provider';
import { FeishuAuthError } from './feishu-auth.error';
import { FEISHU_PATH } from './feishu.constants';
import { FakeClock } from './testing/fake-clock';
import { deferred, jsonResponse, networkError, settled, StrictFakeTransport } from './testing/strict-fake-transport';
import type { HttpPostResult } from './http.transport';

const BASE_URL = 'http://feishu.test';
const PATH = FEISHU_PATH.TENANT_ACCESS_TOKEN_INTERNAL;
const SECRET = 'app-secret-0123456789abcdef';

const tokenAnswer = (token: string, expire = 7200): HttpPostResult =>
  jsonResponse(200, { code: 0, msg: 'ok', tenant_access_token: token, expire });

describe('CustomAppTokenProvider', () => {
  let transport: StrictFakeTransport;
  let clock: FakeClock;
  let sut: CustomAppTokenProvider;

  beforeEach(() => {
    transport = new StrictFakeTransport();
    clock = new FakeClock();
    sut = new CustomAppTokenProvider(transport, { baseUrl: `${BASE_URL}/`, appId: 'cli_app', appSecret: SECRET }, clock);
  });

  afterEach(() => transport.verify());

  it('fetches with the app credentials and caches the token', async () => {
    transport.on(PATH, tokenAnswer('t-1'));

    await expect(sut.getToken('')).resolves.toBe('t-1');
    await expect(sut.getToken('')).resolves.toBe('t-1');

    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]).toEqual({ url: `${BASE_URL}${PATH}`, body: { app_id: 'cli_app', app_secret: SECRET }, timeoutMs: 5000 });
  });

  it('runs one fetch for 100 concurrent callers', async () => {
    const answer = deferred<HttpPostResult>();
    transport.on(PATH, () => answer.promise);

    const waiting = Array.from({ length: 100 }, () => sut.getToken(''));
    answer.resolve(tokenAnswer('t-1'));

    expect(await Promise.all(waiting)).toEqual(Array(100).fill('t-1'));
    expect(transport.calls).toHaveLength(1);
  });

  it('gives every concurrent caller the same failure, then fetches again on the next call', async () => {
    const answer = deferred<HttpPostResult>();
    transport.on(PATH, () => answer.promise, tokenAnswer('t-2'));

    const waiting = Array.from({ length: 10 }, () => sut.getToken('').catch((e: unknown) => e));
    answer.resolve(networkError('network'));
    const errors = await Promise.all(waiting);

    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toBeInstanceOf(FeishuAuthError);
    await expect(sut.getToken('')).resolves.toBe('t-2');
  });

  it('refreshes 5 minutes before expiry by default, answering the still-valid token meanwhile without waiting', async () => {
    const refresh = deferred<HttpPostResult>();
    transport.on(PATH, tokenAnswer('t-1', 7200), () => refresh.promise);
    await sut.getToken('');

    clock.advance((7200 - 300) * 1000 - 1);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    expect(transport.calls).toHaveLength(1);
    clock.advance(1);
    // The refresh is under way and unanswered: callers still get the old token, valid 5 more minutes, at once.
    await expect(sut.getToken('')).resolves.toBe('t-1');
    await expect(sut.getToken('')).resolves.toBe('t-1');
    expect(transport.calls).toHaveLength(2);

    refresh.resolve(tokenAnswer('t-2', 7200));
    await settled();
    await expect(sut.getToken('')).resolves.toBe('t-2');
    expect(transport.calls).toHaveLength(2);
  });

  it('waits for the refresh in flight once the cached token has expired', async () => {
    const refresh = deferred<HttpPostResult>();
    transport.on(PATH, tokenAnswer('t-1', 7200), () => refresh.promise);
    await sut.getToken('');
    clock.advance((7200 - 300) * 1000);
    await expect(sut.getToken('')).resolves.toBe('t-1');

    clock.advance(300 * 1000);
    const waiting = sut.getToken('');
    refresh.resolve(tokenAnswer('t-2', 7200));
    await expect(waiting).resolves.toBe('t-2');
    expect(transport.calls).toHaveLength(2);
  });

  it('caps the margin at half the lifetime so short lifetimes still cache', async () => {
    transport.on(PATH, tokenAnswer('t-1', 60), tokenAnswer('t-2', 60));
    await sut.getToken('');

    clock.advance(29_999);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    expect(transport.calls).toHaveLength(1);
    clock.advance(1);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    await settled();
    await expect(sut.getToken('')).resolves.toBe('t-2');
  });

  it('honours a configured margin', async () => {
    sut = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET, refreshMarginMs: 10_000, timeoutMs: 750 }, clock);
    transport.on(PATH, tokenAnswer('t-1', 7200), tokenAnswer('t-2', 7200));
    await sut.getToken('');

    clock.advance(7_190_000 - 1);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    expect(transport.calls).toHaveLength(1);
    clock.advance(1);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    await settled();
    await expect(sut.getToken('')).resolves.toBe('t-2');
    expect(transport.calls.map((c) => c.timeoutMs)).toEqual([750, 750]);
  });

  it('keeps serving the cached token when an early refresh fails, warns once, and retries the refresh later', async () => {
    const warnings: string[] = [];
    sut = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET }, clock, { debug: () => undefined, warn: (_f, msg) => warnings.push(msg) });
    const failing = deferred<HttpPostResult>();
    transport.on(PATH, tokenAnswer('t-1', 7200), () => failing.promise, tokenAnswer('t-2', 7200));
    await sut.getToken('');
    clock.advance((7200 - 60) * 1000);

    for (let i = 0; i < 5; i++) await expect(sut.getToken('')).resolves.toBe('t-1'); // one refresh for all five
    failing.resolve(jsonResponse(503, null));
    await settled();
    await expect(sut.getToken('')).resolves.toBe('t-1');
    expect(transport.calls).toHaveLength(2);
    expect(warnings).toEqual(['Feishu token refresh failed; using the cached token until it expires']);

    clock.advance(10_000);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    await settled();
    await expect(sut.getToken('')).resolves.toBe('t-2');
    expect(transport.calls).toHaveLength(3);
  });

  it('does not claim to use a cached token that was invalidated while its refresh ran and failed', async () => {
    const warnings: string[] = [];
    sut = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET }, clock, { debug: () => undefined, warn: (_f, msg) => warnings.push(msg) });
    const failing = deferred<HttpPostResult>();
    transport.on(PATH, tokenAnswer('t-1', 7200), () => failing.promise);
    await sut.getToken('');
    clock.advance((7200 - 60) * 1000);
    await expect(sut.getToken('')).resolves.toBe('t-1');
    sut.invalidate('', 't-1');
    failing.resolve(jsonResponse(503, null));
    await settled();
    expect(warnings).toEqual(['Feishu token refresh failed, and no cached token is left']);
  });

  it('fails once the cached token has expired and the refresh fails', async () => {
    transport.on(PATH, tokenAnswer('t-1', 7200), networkError('timeout'));
    await sut.getToken('');
    clock.advance(7200 * 1000);

    await expect(sut.getToken('')).rejects.toMatchObject({ name: 'FeishuAuthError', reason: 'transient' });
  });

  describe('invalidate', () => {
    it('drops the cached token when it is the one given', async () => {
      transport.on(PATH, tokenAnswer('t-1'), tokenAnswer('t-2'));
      await sut.getToken('');

      sut.invalidate('', 't-1');

      await expect(sut.getToken('')).resolves.toBe('t-2');
    });

    it('ignores a token that is not the cached one', async () => {
      transport.on(PATH, tokenAnswer('t-1'));
      await sut.getToken('');

      sut.invalidate('', 't-other');

      await expect(sut.getToken('')).resolves.toBe('t-1');
    });

    it('does not let a late invalidate drop the fresh token', async () => {
      transport.on(PATH, tokenAnswer('t-1'), tokenAnswer('t-2'));
      await sut.getToken('');
      sut.invalidate('', 't-1');
      await sut.getToken('');

      sut.invalidate('', 't-1');

      await expect(sut.getToken('')).resolves.toBe('t-2');
      expect(transport.calls).toHaveLength(2);
    });

    it('does not fall back to an invalidated token when the refetch fails', async () => {
      transport.on(PATH, tokenAnswer('t-1'), jsonResponse(500, null));
      await sut.getToken('');
      sut.invalidate('', 't-1');

      await expect(sut.getToken('')).rejects.toMatchObject({ reason: 'transient', httpStatus: 500 });
    });
  });

  describe('failures are classified', () => {
    it.each<[string, HttpPostResult, Partial<FeishuAuthError>]>([
      ['network error', networkError('network'), { reason: 'transient', code: null, httpStatus: null }],
      ['timeout', networkError('timeout'), { reason: 'transient', httpStatus: null }],
      ['HTTP 502 non-JSON', jsonResponse(502, null), { reason: 'transient', httpStatus: 502 }],
      ['HTTP 429', jsonResponse(429, { code: 99991400, msg: 'request trigger frequency limit' }), { reason: 'rate_limited', code: 99991400 }],
      ['code 99991400 at HTTP 400', jsonResponse(400, { code: 99991400, msg: 'limit' }), { reason: 'rate_limited' }],
      ['wrong secret', jsonResponse(400, { code: 10014, msg: 'app secret invalid' }, { 'x-tt-logid': 'log-1' }), { reason: 'rejected', code: 10014, msg: 'app secret invalid', logId: 'log-1', httpStatus: 400 }],
      ['non-JSON 200', jsonResponse(200, null), { reason: 'malformed_response', httpStatus: 200 }],
      ['missing token', jsonResponse(200, { code: 0, msg: 'ok', expire: 7200 }), { reason: 'malformed_response', code: 0 }],
      ['zero expire', jsonResponse(200, { code: 0, msg: 'ok', tenant_access_token: 't', expire: 0 }), { reason: 'malformed_response' }],
      ['code 0 with HTTP 403', jsonResponse(403, { code: 0, msg: 'ok', tenant_access_token: 't', expire: 7200 }), { reason: 'rejected', httpStatus: 403 }],
    ])('%s', async (_name, answer, expected) => {
      transport.on(PATH, answer);

      const error = await sut.getToken('').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(FeishuAuthError);
      expect(error).toMatchObject({ endpoint: PATH, ...expected });
      expect(String(error)).not.toContain(SECRET);
    });
  });
});
