import { expectFeishuError, expectSuccess, startEmulator, type TestEmulator } from './support/emulator-harness';

describe('/_emulator read-back and control', () => {
  let emulator: TestEmulator;
  let token: string;
  beforeAll(async () => {
    emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_admin', EMULATOR_RATE_LIMIT: '0' });
    token = await emulator.tenantToken();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.admin('reset', {}));

  it('answers health without auth and with an x-tt-logid, like every answer', async () => {
    const answer = await emulator.get('/_emulator/health');
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { status: 'ok' } });
    expect(answer.headers.get('x-tt-logid')).toMatch(/^\d{14}[0-9A-F]{20}$/);
  });

  it('reads back a user: current badge per side with its version, and recent accepted and rejected requests', async () => {
    expectSuccess(await emulator.setBadge(token, { user_id: 'ou_rb', version: '5', pc: { web_app: 2, gadget: 1 } }));
    expectFeishuError(await emulator.setBadge(token, { user_id: 'ou_rb', version: '4', pc: { web_app: 9, gadget: 9 } }), 400, 213001);
    const answer = await emulator.get('/_emulator/badges/ou_rb');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      userId: 'ou_rb',
      userIdType: 'open_id',
      tenantKey: 'tenant_emulator',
      pc: { web_app: 2, gadget: 1, version: '5' },
      mobile: null,
      history: [
        { at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), version: '5', code: 0, pc: { web_app: 2, gadget: 1 }, mobile: null },
        { at: expect.any(String), version: '4', code: 213001, pc: { web_app: 9, gadget: 9 }, mobile: null },
      ],
    });
  });

  it('answers 404 for a user never set, also per tenant and user_id_type', async () => {
    expectSuccess(await emulator.setBadge(token, { user_id: 'ou_x', version: '1', mobile: { web_app: 1, gadget: 0 } }));
    expect((await emulator.get('/_emulator/badges/ou_never')).status).toBe(404);
    expect((await emulator.get('/_emulator/badges/ou_x', { query: { tenantKey: 'tenant_other' } })).status).toBe(404);
    expect((await emulator.get('/_emulator/badges/ou_x', { query: { userIdType: 'union_id' } })).status).toBe(404);
    expect((await emulator.get('/_emulator/badges/ou_x', { query: { userIdType: 'email' } })).status).toBe(400);
  });

  it('keeps the last 50 requests of a user', async () => {
    for (let v = 1; v <= 55; v += 1) await emulator.setBadge(token, { user_id: 'ou_many', version: String(v), pc: { web_app: v, gadget: 0 } });
    const history = (await emulator.get('/_emulator/badges/ou_many')).body.history;
    expect(history).toHaveLength(50);
    expect([history[0].version, history[49].version]).toEqual(['6', '55']);
  });

  it('lists all users with a badge, a page at a time', async () => {
    for (let i = 0; i < 25; i += 1) {
      await emulator.setBadge(token, { user_id: `ou_list_${i}`, version: '1', pc: { web_app: i, gadget: 0 } });
    }
    await emulator.setBadge(token, { user_id: 'ou_list_0', version: '1', pc: { web_app: 0, gadget: 0 } });
    const page = (await emulator.get('/_emulator/badges', { query: { offset: '10', limit: '5' } })).body;
    expect(page).toEqual({ offset: 10, limit: 5, total: 25, items: expect.any(Array) });
    expect(page.items.map((b: { userId: string }) => b.userId)).toEqual(['ou_list_10', 'ou_list_11', 'ou_list_12', 'ou_list_13', 'ou_list_14']);
    expect(page.items[0]).toEqual({
      userId: 'ou_list_10',
      userIdType: 'open_id',
      tenantKey: 'tenant_emulator',
      pc: { web_app: 10, gadget: 0, version: '1' },
      mobile: null,
    });
    const all = (await emulator.get('/_emulator/badges')).body;
    expect([all.limit, all.items.length]).toEqual([1000, 25]);
    expect((await emulator.get('/_emulator/badges', { query: { tenantKey: 'tenant_other' } })).body.total).toBe(0);
    expect((await emulator.get('/_emulator/badges', { query: { limit: '-1' } })).status).toBe(400);
  });

  it('counts answers per endpoint and code, leaving the /_emulator calls out', async () => {
    await emulator.tenantToken();
    expectSuccess(await emulator.setBadge(token, { user_id: 'ou_s', version: '2', pc: { web_app: 1, gadget: 0 } }));
    await emulator.setBadge(token, { user_id: 'ou_s', version: '1', pc: { web_app: 1, gadget: 0 } });
    await emulator.setBadge(token, { user_id: 'ou_s', version: 'x', pc: { web_app: 1, gadget: 0 } });
    await emulator.get('/_emulator/badges');
    const stats = await emulator.admin('stats');
    expect(stats).toEqual({
      requests: { 'tenant_access_token/internal': 1, 'app_badge/set': 3 },
      codes: { 'tenant_access_token/internal': { '0': 1 }, 'app_badge/set': { '0': 1, '213001': 1, '213005': 1 } },
      statuses: { 'tenant_access_token/internal': { '200': 1 }, 'app_badge/set': { '200': 1, '400': 2 } },
      ambiguousInjected: 0,
      faultsInjected: { http5xx: 0, ambiguous: 0, hang: 0, drop: 0, outage: 0, rateLimitStorm: 0, delayed: 0 },
      hungNow: 0,
      concurrency: { peakConcurrentPerUser: 1, usersOverOne: 0, usersOverOneSample: [], inFlight: 1, peakInFlight: expect.any(Number) },
      rateLimit: {
        limits: { 'app_badge/set': 0, token: 1000 },
        maxAcceptedPerWindow: { 'app_badge/set': { 'cli_admin/tenant_emulator': expect.any(Number) }, token: { 'cli_admin/tenant_emulator': 1 } },
      },
      tokens: {
        tenantTokensIssued: 0,
        tenantTokensReused: 1,
        appTokensIssued: 0,
        appTokensReused: 0,
        appTicketsIssued: 0,
        appTicketCallbacks: { delivered: 0, failed: 0, skippedNoCallbackUrl: 0 },
      },
    });
  });

  it('resets badges, counters, faults, users and limits to the configured start, keeping issued tokens', async () => {
    expectSuccess(await emulator.setBadge(token, { user_id: 'ou_r', version: '1', pc: { web_app: 1, gadget: 0 } }));
    await emulator.admin('faults', { latencyMs: 10, outage: true });
    await emulator.admin('users', { invalid: ['ou_r'] });
    await emulator.admin('rate-limits', { appBadgeSet: 1 });
    expect(await emulator.admin('reset', {})).toEqual({ reset: true });

    expect((await emulator.get('/_emulator/badges/ou_r')).status).toBe(404);
    expect((await emulator.admin('badges')).total).toBe(0);
    const stats = await emulator.admin('stats');
    expect([stats.requests, stats.codes, stats.rateLimit.maxAcceptedPerWindow]).toEqual([{}, {}, {}]);
    expect(await emulator.admin('faults')).toEqual(expect.objectContaining({ latencyMs: 0, outage: { active: false, until: null } }));
    expect(await emulator.admin('users')).toEqual({ invalid: [], invisible: [] });
    expect(await emulator.admin('rate-limits')).toEqual({ 'app_badge/set': 0, token: 1000 });
    expectSuccess(await emulator.setBadge(token, { user_id: 'ou_r', version: '1', pc: { web_app: 1, gadget: 0 } }));
  });

  it('refuses malformed admin requests with 400 and the reasons', async () => {
    const answer = await emulator.post('/_emulator/users', { invalid: 'ou_1' });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: 'invalid request', issues: [expect.stringContaining('invalid')] });
    expect((await emulator.post('/_emulator/rate-limits', undefined, { raw: '{nope' })).status).toBe(400);
    expect((await emulator.get('/_emulator/nope')).status).toBe(404);
  });

  it('answers unknown open-apis paths like Feishu: 404 text, with a log id', async () => {
    const answer = await emulator.post('/open-apis/nonexistent/v1/foo', {});
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 404, body: '404 page not found' });
    expect(answer.headers.get('x-tt-logid')).toMatch(/^\d{14}/);
  });
});
