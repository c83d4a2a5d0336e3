import { ManualClock } from '../../apps/feishu-emulator/testing/manual-clock';
import { expectFeishuError, expectSuccess, startEmulator, TOKEN_PATH, waitFor, type TestEmulator } from './support/emulator-harness';

const CREDENTIALS = { app_id: 'cli_tokens', app_secret: 'tokens-secret' };
const ENV = { EMULATOR_APP_ID: CREDENTIALS.app_id, EMULATOR_APP_SECRET: CREDENTIALS.app_secret };
const badge = (version: string) => ({ user_id: 'ou_token_user', version, pc: { web_app: 1, gadget: 0 } });

describe('custom app tenant_access_token (controllable clock)', () => {
  const clock = new ManualClock();
  let emulator: TestEmulator;
  beforeAll(async () => {
    emulator = await startEmulator(ENV, { clock });
  });
  afterAll(() => emulator.close());

  it('answers flat: code, msg, tenant_access_token, expire in seconds, with an x-tt-logid', async () => {
    const answer = await emulator.post(TOKEN_PATH, CREDENTIALS);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('x-tt-logid')).toMatch(/^\d{14}[0-9A-F]{20}$/);
    expect(Object.keys(answer.body)).toEqual(['code', 'msg', 'tenant_access_token', 'expire']);
    expect(answer.body).toEqual({ code: 0, msg: 'ok', tenant_access_token: expect.stringMatching(/^t-[0-9a-f]{40}$/), expire: 7200 });
  });

  it('gives the same token while more than 30 of its 120 minutes are left, then a new one; the old one works until it expires', async () => {
    await emulator.admin('tokens/expire', {});
    const first = (await emulator.post(TOKEN_PATH, CREDENTIALS)).body;
    clock.advance(5399_000);
    const same = (await emulator.post(TOKEN_PATH, CREDENTIALS)).body;
    expect(same).toEqual({ ...first, expire: 1801 });

    clock.advance(1000);
    const rotated = (await emulator.post(TOKEN_PATH, CREDENTIALS)).body;
    expect(rotated.tenant_access_token).not.toBe(first.tenant_access_token);
    expect(rotated.expire).toBe(7200);

    clock.advance(1800_000 - 1);
    expectSuccess(await emulator.setBadge(first.tenant_access_token, badge('1')));
    clock.advance(1);
    expectFeishuError(await emulator.setBadge(first.tenant_access_token, badge('2')), 400, 99991663);
    expectSuccess(await emulator.setBadge(rotated.tenant_access_token, badge('3')));
    expect((await emulator.post(TOKEN_PATH, CREDENTIALS)).body.tenant_access_token).toBe(rotated.tenant_access_token);
  });

  it('changes the lifetime at run time; the 30-minute threshold scales with it', async () => {
    expect(await emulator.admin('tokens', { ttlSeconds: 40 })).toEqual({ ttlSeconds: 40, refreshRatio: 0.25 });
    const first = (await emulator.post(TOKEN_PATH, CREDENTIALS)).body;
    expect(first.expire).toBeLessThanOrEqual(40);
    clock.advance(first.expire * 1000 - 10_001);
    expect((await emulator.post(TOKEN_PATH, CREDENTIALS)).body.tenant_access_token).toBe(first.tenant_access_token);
    clock.advance(1);
    const second = (await emulator.post(TOKEN_PATH, CREDENTIALS)).body;
    expect(second).toEqual({ code: 0, msg: 'ok', tenant_access_token: expect.not.stringMatching(first.tenant_access_token), expire: 40 });
    await emulator.admin('reset', {});
    expect(await emulator.admin('tokens')).toEqual({ ttlSeconds: 7200, refreshRatio: 0.25 });
  });

  it('refuses an expired token with 99991663 and so does every token after tokens/expire', async () => {
    const token = await emulator.tenantToken();
    expect(await emulator.admin('tokens/expire', {})).toEqual({ expired: expect.any(Number) });
    expectFeishuError(await emulator.setBadge(token, badge('10')), 400, 99991663);
  });
});

describe('custom app tenant_access_token (real time, short lifetime)', () => {
  let emulator: TestEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ ...ENV, EMULATOR_TOKEN_TTL_SECONDS: '2', EMULATOR_TOKEN_REFRESH_RATIO: '0.5', EMULATOR_RATE_LIMIT: '0' });
  });
  afterAll(() => emulator.close());

  it('rotates once half the lifetime is gone and lets the old token run out', async () => {
    const first = await emulator.tenantToken();
    const second = await waitFor('a rotated token', async () => {
      const token = await emulator.tenantToken();
      return token !== first && token;
    });
    expectSuccess(await emulator.setBadge(first, badge('1')));
    await waitFor('the first token to expire', async () => (await emulator.setBadge(first, badge('2'))).body.code === 99991663);
    expectSuccess(await emulator.setBadge(second, badge('3')));
  });
});

describe('bad credentials', () => {
  let emulator: TestEmulator;
  beforeAll(async () => {
    emulator = await startEmulator(ENV);
  });
  afterAll(() => emulator.close());

  it('answers a wrong secret with code 10014 at HTTP 200, like Feishu', async () => {
    const answer = await emulator.post(TOKEN_PATH, { ...CREDENTIALS, app_secret: 'wrong' });
    expectFeishuError(answer, 200, 10014);
    expect(answer.body.msg).toBe('app secret invalid');
    expect(answer.body.tenant_access_token).toBeUndefined();
  });

  it.each([
    ['an unknown app', { app_id: 'cli_nobody', app_secret: 'x' }],
    ['a missing secret', { app_id: CREDENTIALS.app_id }],
    ['no body at all', undefined],
    ['a number app_id', { app_id: 1, app_secret: 'x' }],
  ])('answers %s with code 10003 "invalid param"', async (_, body) => {
    const answer = await emulator.post(TOKEN_PATH, body);
    expectFeishuError(answer, 200, 10003);
    expect(answer.body.msg).toBe('invalid param');
  });

  it('uses HTTP 400 for token errors when EMULATOR_TOKEN_ERROR_HTTP_STATUS=400', async () => {
    const strict = await startEmulator({ ...ENV, EMULATOR_TOKEN_ERROR_HTTP_STATUS: '400' });
    try {
      expectFeishuError(await strict.post(TOKEN_PATH, { ...CREDENTIALS, app_secret: 'wrong' }), 400, 10014);
    } finally {
      await strict.close();
    }
  });
});

describe('Authorization of business calls', () => {
  let emulator: TestEmulator;
  beforeAll(async () => {
    emulator = await startEmulator(ENV);
  });
  afterAll(() => emulator.close());

  it.each([
    ['no Authorization header', 99991661, undefined],
    ['an empty header', 99991661, ''],
    ['a token without the Bearer scheme', 99991661, 't-0123456789abcdef'],
    ['a malformed token', 99991671, 'Bearer this is not a token'],
    ['a token of no known shape', 99991671, 'Bearer garbage'],
    ['an unknown token', 99991663, 'Bearer t-bad'],
  ])('answers %s with HTTP 400 and code %d', async (_, code, authorization) => {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
    expectFeishuError(await emulator.post('/open-apis/application/v6/app_badge/set', badge('1'), { headers }), 400, code);
  });
});
