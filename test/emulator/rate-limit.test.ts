import { ManualClock } from '../../apps/feishu-emulator/testing/manual-clock';
import { expectFeishuError, expectSuccess, startEmulator, TOKEN_PATH, type TestEmulator } from './support/emulator-harness';

const badge = (userId: string, version: number) => ({ user_id: userId, version: String(version), pc: { web_app: 1, gadget: 0 } });

describe('rate limits (controllable clock)', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 0));
  let emulator: TestEmulator;
  let token: string;
  beforeAll(async () => {
    emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_rate', EMULATOR_RATE_LIMIT: '5', EMULATOR_TOKEN_RATE_LIMIT: '3' }, { clock });
    token = await emulator.tenantToken();
  });
  afterAll(() => emulator.close());
  beforeEach(async () => {
    await emulator.admin('reset', {});
    clock.advance(1000 - (clock.now() % 1000));
  });

  it('answers the request over the limit with HTTP 429, 99991400 and the x-ogw headers', async () => {
    for (let i = 1; i <= 5; i += 1) expectSuccess(await emulator.setBadge(token, badge(`ou_${i}`, i)));
    clock.advance(250);
    const limited = await emulator.setBadge(token, badge('ou_6', 6));
    expectFeishuError(limited, 429, 99991400);
    expect(limited.body.msg).toBe('request trigger frequency limit');
    expect(limited.headers.get('x-ogw-ratelimit-limit')).toBe('5');
    expect(limited.headers.get('x-ogw-ratelimit-reset')).toBe('1');
    expect((await emulator.get('/_emulator/badges/ou_6')).status).toBe(404);
  });

  it('opens a new window every whole second', async () => {
    for (let i = 1; i <= 6; i += 1) await emulator.setBadge(token, badge('ou_w', i));
    clock.advance(999);
    expectFeishuError(await emulator.setBadge(token, badge('ou_w', 7)), 429, 99991400);
    clock.advance(1);
    expectSuccess(await emulator.setBadge(token, badge('ou_w', 8)));
  });

  it('records the most requests accepted in one window per app x tenant, never the refused ones', async () => {
    for (let i = 1; i <= 9; i += 1) await emulator.setBadge(token, badge('ou_m', i));
    clock.advance(1000);
    for (let i = 10; i <= 12; i += 1) await emulator.setBadge(token, badge('ou_m', i));
    const stats = await emulator.admin('stats');
    expect(stats.rateLimit.maxAcceptedPerWindow['app_badge/set']).toEqual({ 'cli_rate/tenant_emulator': 5 });
    expect(stats.codes['app_badge/set']).toEqual({ '0': 8, '99991400': 4 });
    expect(stats.statuses['app_badge/set']).toEqual({ '200': 8, '429': 4 });
  });

  it('treats a limit of 0 as unlimited, changed at run time', async () => {
    expect(await emulator.admin('rate-limits', { appBadgeSet: 0 })).toEqual({ 'app_badge/set': 0, token: 3 });
    for (let i = 1; i <= 60; i += 1) expectSuccess(await emulator.setBadge(token, badge('ou_u', i)));
    expect((await emulator.admin('stats')).rateLimit.maxAcceptedPerWindow['app_badge/set']['cli_rate/tenant_emulator']).toBe(60);
  });

  it('limits the token endpoints too, with the same answer', async () => {
    const credentials = { app_id: 'cli_rate', app_secret: emulator.config.customApp.appSecret };
    for (let i = 0; i < 3; i += 1) expect((await emulator.post(TOKEN_PATH, credentials)).body.code).toBe(0);
    const limited = await emulator.post(TOKEN_PATH, credentials);
    expectFeishuError(limited, 429, 99991400);
    expect(limited.headers.get('x-ogw-ratelimit-limit')).toBe('3');
  });
});

describe('rate limits (real time)', () => {
  it('lets at most the limit through per window under a concurrent burst', async () => {
    const emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_rate_burst', EMULATOR_RATE_LIMIT: '5' });
    try {
      const token = await emulator.tenantToken();
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => emulator.setBadge(token, badge(`ou_b${i}`, 1))));
      // Windows are whole seconds of the same clock, so count how many the burst could have touched.
      const windows = Math.floor(Date.now() / 1000) - Math.floor(started / 1000) + 1;
      const accepted = answers.filter((a) => a.status === 200).length;
      const limited = answers.filter((a) => a.status === 429);
      expect(accepted).toBeGreaterThanOrEqual(Math.min(5, windows));
      expect(accepted).toBeLessThanOrEqual(5 * windows);
      expect(limited.length).toBe(40 - accepted);
      for (const answer of limited) expect(Number(answer.headers.get('x-ogw-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
      const peak = (await emulator.admin('stats')).rateLimit.maxAcceptedPerWindow['app_badge/set']['cli_rate_burst/tenant_emulator'];
      expect(peak).toBeLessThanOrEqual(5);
      if (windows === 1) expect([accepted, peak]).toEqual([5, 5]);
    } finally {
      await emulator.close();
    }
  });
});
