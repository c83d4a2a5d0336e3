import { ManualClock } from '../../apps/feishu-emulator/testing/manual-clock';
import { expectFeishuError, expectSuccess, startEmulator, TOKEN_PATH, waitFor, type TestEmulator } from './support/emulator-harness';

const badge = (userId: string, version: string) => ({ user_id: userId, version, pc: { web_app: 4, gadget: 1 } });

describe('fault injection', () => {
  // Latency, timed outages and storms follow this clock, so the tests decide when time passes.
  const clock = new ManualClock();
  let emulator: TestEmulator;
  let token: string;
  beforeAll(async () => {
    emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_faults', EMULATOR_RATE_LIMIT: '0' }, { clock });
    token = await emulator.tenantToken();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.admin('reset', {}));

  const stats = () => emulator.admin('stats');
  const badgeOf = (userId: string) => emulator.get(`/_emulator/badges/${userId}`);

  describe('the /_emulator/faults endpoint', () => {
    it('reads the configured start state and takes partial changes', async () => {
      expect(await emulator.admin('faults')).toEqual({
        http5xxRate: 0,
        http5xxStatuses: [500, 502, 503],
        ambiguousRate: 0,
        latencyMs: 0,
        latencyJitterMs: 0,
        hangRate: 0,
        dropRate: 0,
        outage: { active: false, until: null },
        rateLimitStorm: { active: false, until: null, resetSeconds: 1 },
      });
      const changed = await emulator.admin('faults', { latencyMs: 5, dropRate: 0.25 });
      expect(changed).toEqual(expect.objectContaining({ latencyMs: 5, dropRate: 0.25, hangRate: 0 }));
      expect(await emulator.admin('faults')).toEqual(changed);
    });

    it('refuses unknown fields, out-of-range values and shares adding up to more than 1', async () => {
      for (const body of [{ nope: 1 }, { http5xxRate: 2 }, { latencyMs: -1 }, { http5xxRate: 0.6, hangRate: 0.6 }, { outage: 'yes' }]) {
        const answer = await emulator.post('/_emulator/faults', body);
        expect(answer.status).toBe(400);
        expect(answer.body).toEqual({ error: expect.any(String), issues: [expect.any(String)] });
      }
      expect((await emulator.admin('faults')).http5xxRate).toBe(0);
    });
  });

  it('answers a share of requests with 500/502/503 and applies nothing', async () => {
    await emulator.admin('faults', { http5xxRate: 1 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => emulator.setBadge(token, badge(`ou_5xx_${i}`, '1'))));
    for (const answer of answers) {
      expect([500, 502, 503]).toContain(answer.status);
      expectFeishuError(answer, answer.status, answer.status);
    }
    expect((await badgeOf('ou_5xx_0')).status).toBe(404);
    await emulator.admin('faults', { http5xxStatuses: [502] });
    expectFeishuError(await emulator.setBadge(token, badge('ou_5xx_x', '1')), 502, 502);
    const s = await stats();
    expect(s.faultsInjected.http5xx).toBe(31);
    expect(s.statuses['app_badge/set']['502']).toBeGreaterThanOrEqual(1);
  });

  it('applies an ambiguous request, answers 500 anyway, and counts it', async () => {
    await emulator.admin('faults', { ambiguousRate: 1 });
    expectFeishuError(await emulator.setBadge(token, badge('ou_amb', '10')), 500, 500);
    expectFeishuError(await emulator.setBadge(token, badge('ou_amb', '10')), 400, 213001);
    const readBack = (await badgeOf('ou_amb')).body;
    expect(readBack.pc).toEqual({ web_app: 4, gadget: 1, version: '10' });
    expect(readBack.history[0]).toEqual(expect.objectContaining({ version: '10', code: 0, answeredStatus: 500 }));
    const s = await stats();
    expect(s.ambiguousInjected).toBe(1);
    expect(s.codes['app_badge/set']).toEqual({ '500': 1, '213001': 1 });
  });

  it('holds a request for the injected latency', async () => {
    await emulator.admin('faults', { latencyMs: 150 });
    let answered = false;
    const answer = emulator.setBadge(token, badge('ou_slow', '1')).finally(() => (answered = true));
    await waitFor('the request to be delayed', async () => (await stats()).faultsInjected.delayed === 1);
    clock.advance(149);
    expect(clock.pendingSleeps()).toBe(1);
    expect(answered).toBe(false);
    clock.advance(1);
    expectSuccess(await answer);
  });

  it('hangs a request until the client gives up, then forgets it', async () => {
    await emulator.admin('faults', { hangRate: 1 });
    await expect(emulator.setBadge(token, badge('ou_hang', '1'), undefined, AbortSignal.timeout(200))).rejects.toThrow();
    await waitFor('the hung request to be cleaned up', async () => {
      const s = await stats();
      return s.hungNow === 0 && s.codes['app_badge/set']?.hung === 1;
    });
    expect((await stats()).faultsInjected.hang).toBe(1);
    await emulator.admin('faults', { hangRate: 0 });
    expect((await badgeOf('ou_hang')).status).toBe(404);
  });

  it('drops a connection without an answer', async () => {
    await emulator.admin('faults', { dropRate: 1 });
    await expect(emulator.setBadge(token, badge('ou_drop', '1'))).rejects.toThrow(/fetch failed/);
    await waitFor('the drop to be counted', async () => (await stats()).codes['app_badge/set']?.dropped === 1);
    expect((await badgeOf('ou_drop')).status).toBe(404);
  });

  it('still applies a change whose client went away during the latency, and counts it aborted', async () => {
    await emulator.admin('faults', { latencyMs: 300 });
    const client = new AbortController();
    const answer = emulator.setBadge(token, badge('ou_gone', '1'), undefined, client.signal);
    await waitFor('the request to be delayed', async () => (await stats()).faultsInjected.delayed === 1);
    client.abort();
    await expect(answer).rejects.toThrow();
    await waitFor('the abort to be counted', async () => (await stats()).codes['app_badge/set']?.aborted === 1);
    expect((await badgeOf('ou_gone')).status).toBe(404);
    clock.advance(300);
    await waitFor('the change to land', async () => (await badgeOf('ou_gone')).status === 200);
  });

  it('answers everything on business and token endpoints with 503 during an outage, until turned off', async () => {
    await emulator.admin('faults', { outage: true });
    expectFeishuError(await emulator.setBadge(token, badge('ou_out', '1')), 503, 503);
    const credentials = { app_id: 'cli_faults', app_secret: emulator.config.customApp.appSecret };
    expectFeishuError(await emulator.post(TOKEN_PATH, credentials), 503, 503);
    expect((await emulator.admin('faults')).outage).toEqual({ active: true, until: null });
    await emulator.admin('faults', { outage: false });
    expectSuccess(await emulator.setBadge(token, badge('ou_out', '1')));
    expect((await stats()).faultsInjected.outage).toBe(2);
  });

  it('ends a timed outage by itself', async () => {
    await emulator.admin('faults', { outage: { seconds: 2 } });
    expect((await emulator.admin('faults')).outage).toEqual({ active: true, until: new Date(clock.now() + 2000).toISOString() });
    expectFeishuError(await emulator.setBadge(token, badge('ou_timed', '1')), 503, 503);
    clock.advance(1999);
    expectFeishuError(await emulator.setBadge(token, badge('ou_timed', '1')), 503, 503);
    clock.advance(1);
    expectSuccess(await emulator.setBadge(token, badge('ou_timed', '2')));
  });

  it('answers every app_badge/set with 429 and the configured reset during a forced storm', async () => {
    await emulator.admin('faults', { rateLimitStorm: { seconds: 3, resetSeconds: 7 } });
    const answer = await emulator.setBadge(token, badge('ou_storm', '1'));
    expectFeishuError(answer, 429, 99991400);
    expect(answer.headers.get('x-ogw-ratelimit-reset')).toBe('7');
    expect(answer.headers.get('x-ogw-ratelimit-limit')).toBe('50');
    expect((await emulator.tenantToken()).startsWith('t-')).toBe(true);
    clock.advance(3000);
    expectSuccess(await emulator.setBadge(token, badge('ou_storm', '2')));
    expect((await stats()).faultsInjected.rateLimitStorm).toBe(1);
  });
});

describe('latency in real time', () => {
  it('adds base latency plus uniform jitter', async () => {
    const emulator = await startEmulator({ EMULATOR_LATENCY_MS: '120', EMULATOR_LATENCY_JITTER_MS: '40' });
    try {
      const token = await emulator.tenantToken();
      const started = Date.now();
      expectSuccess(await emulator.setBadge(token, badge('ou_real_slow', '1')));
      expect(Date.now() - started).toBeGreaterThanOrEqual(120);
    } finally {
      await emulator.close();
    }
  });
});

describe('faults from the environment', () => {
  it('starts with the configured faults and reset returns to them', async () => {
    const emulator = await startEmulator({ EMULATOR_FAULT_5XX_RATE: '1', EMULATOR_FAULT_5XX_STATUSES: '503', EMULATOR_LATENCY_MS: '20' });
    try {
      const token = await emulator.tenantToken();
      expectFeishuError(await emulator.setBadge(token, badge('ou_env', '1')), 503, 503);
      await emulator.admin('faults', { http5xxRate: 0 });
      expectSuccess(await emulator.setBadge(token, badge('ou_env', '1')));
      await emulator.admin('reset', {});
      expect(await emulator.admin('faults')).toEqual(expect.objectContaining({ http5xxRate: 1, http5xxStatuses: [503], latencyMs: 20 }));
    } finally {
      await emulator.close();
    }
  });
});

describe('shutdown with a hung request', () => {
  it('closes promptly and cuts the hung connection', async () => {
    const emulator = await startEmulator({ EMULATOR_FAULT_HANG_RATE: '1' });
    const token = await emulator.tenantToken();
    const hung = emulator.setBadge(token, badge('ou_hung', '1'));
    const outcome = hung.then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor('the request to hang', async () => (await emulator.admin('stats')).hungNow === 1);
    const started = Date.now();
    await emulator.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await outcome).toBe('failed');
  });
});
