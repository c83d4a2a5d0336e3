import { ShadowBadgeSender } from './badge-sender';
import { CustomAppTokenProvider } from './custom-app-token.provider';
import { FeishuAuthError } from './feishu-auth.error';
import { FeishuBadgeClient, type SetAppBadgeRequest } from './feishu-badge.client';
import { FEISHU_PATH } from './feishu.constants';
import type { HttpPostResult } from './http.transport';
import type { TenantTokenProvider } from './tenant-token.provider';
import { FakeClock } from './testing/fake-clock';
import { jsonResponse, networkError, settled, StrictFakeTransport } from './testing/strict-fake-transport';

const BASE_URL = 'http://feishu.test';
const BADGE = FEISHU_PATH.APP_BADGE_SET;
const TOKEN = FEISHU_PATH.TENANT_ACCESS_TOKEN_INTERNAL;
const SECRET = 'custom-secret-0123456789abcdef';

const tokenAnswer = (token: string): HttpPostResult => jsonResponse(200, { code: 0, msg: 'ok', tenant_access_token: token, expire: 7200 });
const badgeAnswer = (status: number, code: number, msg = 'msg', headers = {}): HttpPostResult => jsonResponse(status, { code, msg, data: {} }, headers);

const request: SetAppBadgeRequest = {
  tenantKey: '',
  userId: 'ou_d317f090b7258ad0372aa53963cda70d',
  userIdType: 'open_id',
  version: '1664360599355',
  pc: { web_app: 1, gadget: 2 },
  mobile: { web_app: 3, gadget: 4 },
};

describe('FeishuBadgeClient', () => {
  let transport: StrictFakeTransport;
  let clock: FakeClock;
  let sut: FeishuBadgeClient;

  beforeEach(() => {
    transport = new StrictFakeTransport();
    clock = new FakeClock();
    const tokens = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET }, clock);
    sut = new FeishuBadgeClient(transport, tokens, { baseUrl: BASE_URL }, clock);
  });

  afterEach(() => transport.verify());

  it('posts the badge with the tenant token and reports it applied', async () => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0, 'success', { 'x-tt-logid': 'log-ok' }));

    const result = await sut.setAppBadge(request);

    expect(result).toEqual({ outcome: 'applied', code: 0, httpStatus: 200, msg: 'success', logId: 'log-ok', latencyMs: 0, tokenRefreshed: false });
    expect(transport.callsTo(BADGE)).toEqual([
      {
        url: `${BASE_URL}${BADGE}?user_id_type=open_id`,
        headers: { authorization: 'Bearer t-1' },
        body: { user_id: request.userId, version: '1664360599355', pc: { web_app: 1, gadget: 2 }, mobile: { web_app: 3, gadget: 4 } },
        timeoutMs: 5000,
      },
    ]);
  });

  it.each([
    ['pc only', { pc: { web_app: 5, gadget: 0 } }, { pc: { web_app: 5, gadget: 0 } }],
    ['mobile only', { mobile: { web_app: 0, gadget: 9 } }, { mobile: { web_app: 0, gadget: 9 } }],
    ['neither', {}, {}],
  ])('sends only the sides given (%s)', async (_name, sides, expected) => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0));

    await sut.setAppBadge({ tenantKey: '', userId: 'u1', userIdType: 'user_id', version: '1', ...sides });

    expect(transport.callsTo(BADGE)[0]?.body).toEqual({ user_id: 'u1', version: '1', ...expected });
  });

  it('does not forward properties beyond web_app and gadget', async () => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0));
    const pc = { web_app: 1, gadget: 2, extra: 'nope' };

    await sut.setAppBadge({ ...request, pc, mobile: undefined });

    expect(transport.callsTo(BADGE)[0]?.body).toEqual({ user_id: request.userId, version: request.version, pc: { web_app: 1, gadget: 2 } });
  });

  it.each(['open_id', 'union_id', 'user_id'] as const)('passes user_id_type=%s', async (userIdType) => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0));

    await sut.setAppBadge({ ...request, userIdType });

    expect(transport.callsTo(BADGE)[0]?.url).toBe(`${BASE_URL}${BADGE}?user_id_type=${userIdType}`);
  });

  it('uses the configured timeout', async () => {
    const tokens = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET }, clock);
    sut = new FeishuBadgeClient(transport, tokens, { baseUrl: BASE_URL, timeoutMs: 1234 }, clock);
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0));

    await sut.setAppBadge(request);

    expect(transport.callsTo(BADGE)[0]?.timeoutMs).toBe(1234);
  });

  it('measures latency with the injected clock', async () => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, () => {
      clock.advance(42);
      return badgeAnswer(200, 0);
    });

    expect((await sut.setAppBadge(request)).latencyMs).toBe(42);
  });

  describe('auth answers', () => {
    it.each([
      [400, 99991661],
      [400, 99991663],
      [200, 99991663],
      [400, 99991664],
      [400, 99991671],
    ])('HTTP %i code %i: invalidates the token and retries once with a fresh one', async (status, code) => {
      transport.on(TOKEN, tokenAnswer('t-old'), tokenAnswer('t-new')).on(BADGE, badgeAnswer(status, code, 'invalid token'), badgeAnswer(200, 0));

      const result = await sut.setAppBadge(request);

      expect(result).toMatchObject({ outcome: 'applied', tokenRefreshed: true });
      expect(transport.callsTo(BADGE).map((c) => c.headers)).toEqual([{ authorization: 'Bearer t-old' }, { authorization: 'Bearer t-new' }]);
    });

    it('retries exactly once, then reports auth', async () => {
      const refused = badgeAnswer(400, 99991663, 'invalid tenant token', { 'x-tt-logid': 'log-2' });
      transport.on(TOKEN, tokenAnswer('t-1'), tokenAnswer('t-2')).on(BADGE, refused, refused);

      const result = await sut.setAppBadge(request);

      expect(result).toMatchObject({ outcome: 'auth', code: 99991663, httpStatus: 400, logId: 'log-2', tokenRefreshed: true });
      expect(result).not.toHaveProperty('authFailure');
      expect(transport.callsTo(BADGE)).toHaveLength(2);
      expect(transport.callsTo(TOKEN)).toHaveLength(2);
    });

    it('waits for beforeRetry (a push slot) before the retry, and does not retry when it says no', async () => {
      const order: string[] = [];
      transport.on(TOKEN, tokenAnswer('t-old'), tokenAnswer('t-new')).on(BADGE, badgeAnswer(400, 99991663), badgeAnswer(200, 0));
      const ok = await sut.setAppBadge(request, {
        beforeRetry: async () => (order.push(`slot after ${transport.callsTo(BADGE).length} send(s), ${transport.callsTo(TOKEN).length} token(s)`), clock.advance(250), true),
      });
      expect(ok).toMatchObject({ outcome: 'applied', tokenRefreshed: true, latencyMs: 0 }); // the wait for the slot is not latency
      // The fresh token is in hand before the slot: nothing is awaited between the slot and the send.
      expect(order).toEqual(['slot after 1 send(s), 2 token(s)']);

      transport.on(BADGE, badgeAnswer(400, 99991663)).on(TOKEN, tokenAnswer('t-3'));
      const refused = await sut.setAppBadge(request, { beforeRetry: async () => false });
      expect(refused).toMatchObject({ outcome: 'auth', code: 99991663, tokenRefreshed: false });
      expect(transport.callsTo(BADGE)).toHaveLength(3);
    });

    it('asks beforeSend (the slot) once the token is in hand, before the first request only; a no sends nothing', async () => {
      const order: string[] = [];
      const beforeSend = async () => (order.push(`send check after ${transport.callsTo(TOKEN).length} token(s), ${transport.callsTo(BADGE).length} send(s)`), true);
      transport.on(TOKEN, tokenAnswer('t-old'), tokenAnswer('t-new')).on(BADGE, badgeAnswer(400, 99991663), badgeAnswer(200, 0));
      expect(await sut.setAppBadge(request, { beforeSend, beforeRetry: async () => true })).toMatchObject({ outcome: 'applied', tokenRefreshed: true });
      expect(order).toEqual(['send check after 1 token(s), 0 send(s)']);

      // The time beforeSend waits (for the caller's send window) is not Feishu's latency.
      const held = await sut.setAppBadge(request, { beforeSend: async () => (clock.advance(5), false) });
      expect(held).toEqual({ outcome: 'not_sent', code: null, httpStatus: null, msg: 'not sent: held back by the caller before sending', logId: null, held: true, latencyMs: 0, tokenRefreshed: false });
      transport.on(BADGE, () => (clock.advance(40), badgeAnswer(200, 0)));
      expect(await sut.setAppBadge(request, { beforeSend: async () => (clock.advance(300), true) })).toMatchObject({ outcome: 'applied', latencyMs: 40 });
      expect(transport.callsTo(BADGE)).toHaveLength(3);
      expect(await new ShadowBadgeSender().setAppBadge(request, { beforeSend: async () => false })).toMatchObject({ outcome: 'not_sent', held: true });
      expect(await new ShadowBadgeSender().setAppBadge(request, { beforeSend: async () => true })).toMatchObject({ outcome: 'shadow' });
    });

    it('does not retry without a fresh token in hand: the retry would fetch it after its slot', async () => {
      transport.on(TOKEN, tokenAnswer('t-old'), networkError('network')).on(BADGE, badgeAnswer(400, 99991663));
      let slots = 0;
      const r = await sut.setAppBadge(request, { beforeRetry: async () => (slots++, true) });
      expect(r).toMatchObject({ outcome: 'auth', code: 99991663, tokenRefreshed: false });
      expect(slots).toBe(0);
      expect(transport.callsTo(BADGE)).toHaveLength(1);
    });

    it('reports the retry outcome, whatever it is', async () => {
      transport.on(TOKEN, tokenAnswer('t-1'), tokenAnswer('t-2')).on(BADGE, badgeAnswer(400, 99991663), badgeAnswer(400, 213004, 'concurrent'));

      expect(await sut.setAppBadge(request)).toMatchObject({ outcome: 'concurrent', code: 213004, tokenRefreshed: true });
    });

    it('does not retry other outcomes', async () => {
      transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(400, 213001, 'pc version conflict, latest version: 1664360599999'));

      expect(await sut.setAppBadge(request)).toMatchObject({ outcome: 'version_conflict', latestVersion: '1664360599999', tokenRefreshed: false });
    });

    it('does not retry an auth code carried by a 5xx', async () => {
      transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(503, 99991663));

      expect(await sut.setAppBadge(request)).toMatchObject({ outcome: 'transient', tokenRefreshed: false });
    });

    it('reports auth when the fresh token cannot be fetched', async () => {
      transport.on(TOKEN, tokenAnswer('t-1'), jsonResponse(400, { code: 10014, msg: 'app secret invalid' })).on(BADGE, badgeAnswer(400, 99991663));

      const result = await sut.setAppBadge(request);

      expect(result).toMatchObject({ outcome: 'auth', code: 10014, httpStatus: 400, authFailure: 'rejected', tokenRefreshed: false });
      expect(transport.callsTo(BADGE)).toHaveLength(1);
    });
  });

  describe('token failures', () => {
    it('reports auth without calling app_badge/set', async () => {
      transport.on(TOKEN, networkError('timeout'));

      const result = await sut.setAppBadge(request);

      expect(result).toMatchObject({ outcome: 'auth', authFailure: 'transient', code: null, httpStatus: null, tokenRefreshed: false });
      expect(result.msg).toContain('timed out');
      expect(transport.callsTo(BADGE)).toHaveLength(0);
    });

    it('does not trust the message of a foreign provider error', async () => {
      const tokens: TenantTokenProvider = {
        getToken: () => Promise.reject(new Error(`boom ${SECRET}`)),
        invalidate: () => undefined,
      };
      sut = new FeishuBadgeClient(transport, tokens, { baseUrl: BASE_URL }, clock);

      const result = await sut.setAppBadge(request);

      expect(result).toMatchObject({ outcome: 'auth', authFailure: 'provider_error', msg: 'token provider threw Error' });
    });

    it('passes the tenant key to the provider', async () => {
      const asked: string[] = [];
      const tokens: TenantTokenProvider = {
        getToken: (tenantKey) => {
          asked.push(tenantKey);
          return Promise.reject(new FeishuAuthError({ reason: 'app_ticket_missing', endpoint: FEISHU_PATH.APP_ACCESS_TOKEN, code: null, msg: 'no ticket', logId: null, httpStatus: null }));
        },
        invalidate: () => undefined,
      };
      sut = new FeishuBadgeClient(transport, tokens, { baseUrl: BASE_URL }, clock);

      const result = await sut.setAppBadge({ ...request, tenantKey: 'tenant-a' });

      expect(asked).toEqual(['tenant-a']);
      expect(result).toMatchObject({ outcome: 'auth', authFailure: 'app_ticket_missing' });
    });
  });

  it.each<[string, HttpPostResult, object]>([
    ['timeout', networkError('timeout'), { outcome: 'transient', httpStatus: null, msg: 'timed out after 5000 ms' }],
    ['network error', networkError('network'), { outcome: 'transient', httpStatus: null }],
    ['HTTP 502 non-JSON', jsonResponse(502, null), { outcome: 'transient', httpStatus: 502 }],
    ['HTTP 429', badgeAnswer(429, 99991400, 'limit', { 'x-ogw-ratelimit-reset': '3' }), { outcome: 'rate_limited', retryAfterMs: 3000 }],
    ['213006', badgeAnswer(400, 213006), { outcome: 'user_invalid' }],
    ['213007', badgeAnswer(400, 213007), { outcome: 'user_invisible' }],
    ['unknown code', badgeAnswer(400, 1), { outcome: 'unexpected', code: 1 }],
  ])('returns %s as a classified result', async (_name, answer, expected) => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, answer);

    expect(await sut.setAppBadge(request)).toMatchObject({ ...expected, tokenRefreshed: false });
  });

  describe('a deadline (the lease)', () => {
    it('gives the request only the time left before the deadline', async () => {
      transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, badgeAnswer(200, 0));
      await sut.setAppBadge(request, { deadlineAt: clock.now() + 1234 });
      expect(transport.callsTo(BADGE)[0].timeoutMs).toBe(1234);
    });
    it('does not start a request with less than 100 ms left (it would be cut off on the wire)', async () => {
      transport.on(TOKEN, tokenAnswer('t-1'));
      expect(await sut.setAppBadge(request, { deadlineAt: clock.now() + 99 })).toMatchObject({ outcome: 'not_sent' });
      expect(transport.callsTo(BADGE)).toHaveLength(0);
    });
    it('sends nothing once the deadline has passed, and says so', async () => {
      transport.on(TOKEN, tokenAnswer('t-1'));
      const r = await sut.setAppBadge(request, { deadlineAt: clock.now() });
      expect(r).toMatchObject({ outcome: 'not_sent', code: null, httpStatus: null });
      expect(r.msg).toMatch(/not sent/);
      expect(transport.callsTo(BADGE)).toHaveLength(0);
    });
    it('does not wait past the deadline for a token that never comes', async () => {
      const hanging: TenantTokenProvider = { getToken: () => new Promise<string>(() => undefined), invalidate: () => undefined };
      const client = new FeishuBadgeClient(transport, hanging, { baseUrl: BASE_URL });
      const r = await client.setAppBadge(request, { deadlineAt: Date.now() + 30 });
      expect(r).toMatchObject({ outcome: 'not_sent' });
      expect(transport.callsTo(BADGE)).toHaveLength(0);
    });
  });

  it('reports a throwing transport as unexpected instead of throwing', async () => {
    transport.on(TOKEN, tokenAnswer('t-1')).on(BADGE, () => {
      throw new TypeError('bug');
    });

    expect(await sut.setAppBadge(request)).toMatchObject({ outcome: 'unexpected', msg: 'transport threw TypeError' });
  });

  it('logs through the injected logger only, without tokens or the secret', async () => {
    const lines: unknown[] = [];
    const logger = { debug: (fields: object, msg: string) => lines.push(['debug', fields, msg]), warn: (fields: object, msg: string) => lines.push(['warn', fields, msg]) };
    const tokens = new CustomAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_app', appSecret: SECRET }, clock, logger);
    sut = new FeishuBadgeClient(transport, tokens, { baseUrl: BASE_URL }, clock, logger);
    transport
      .on(TOKEN, tokenAnswer('t-first-token'), tokenAnswer('t-second-token'), jsonResponse(503, null))
      .on(BADGE, badgeAnswer(200, 99991663), badgeAnswer(200, 0), badgeAnswer(200, 0));

    await sut.setAppBadge(request);
    clock.advance((7200 - 60) * 1000);
    await sut.setAppBadge(request);
    await settled(); // the refresh behind the cached token, and its 503

    const logged = JSON.stringify(lines);
    expect(lines.map((l) => (l as [string])[0])).toEqual(['debug', 'debug', 'debug', 'warn']);
    for (const secret of [SECRET, 't-first-token', 't-second-token']) expect(logged).not.toContain(secret);
  });

  it('scrubs the bearer token from what Feishu says', async () => {
    transport.on(TOKEN, tokenAnswer('t-secret-token-value')).on(BADGE, badgeAnswer(400, 1, 'bad header Bearer t-secret-token-value'));

    const result = await sut.setAppBadge(request);

    expect(JSON.stringify(result)).not.toContain('t-secret-token-value');
  });
});
