import * as lark from '@larksuiteoapi/node-sdk';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../apps/feishu-emulator/testing/manual-clock';
import { startEmulator, waitFor, type TestEmulator } from './support/emulator-harness';

// The SDK caches tenant tokens per appId in one process-wide map: every emulator here gets its own app id.
const silent = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined };
const LOG_ID = /^\d{14}[0-9A-F]{20}$/;

function selfBuildClient(emulator: TestEmulator, extra: Partial<ConstructorParameters<typeof lark.Client>[0]> = {}) {
  return new lark.Client({
    appId: emulator.config.customApp.appId,
    appSecret: emulator.config.customApp.appSecret,
    appType: lark.AppType.SelfBuild,
    domain: emulator.url,
    logger: silent,
    ...extra,
  });
}

const payload = (userId: string, version: string, count: number) => ({
  params: { user_id_type: 'open_id' as const },
  data: { user_id: userId, version, extra: '{}', pc: { web_app: count, gadget: 0 }, mobile: { web_app: count, gadget: 0 } },
});

async function axiosFailure(promise: Promise<unknown>): Promise<{ status: number; data: any; headers: Record<string, string> }> {
  try {
    await promise;
  } catch (error) {
    const response = (error as { response?: { status: number; data: unknown; headers: Record<string, string> } }).response;
    if (response === undefined) throw error;
    return response as { status: number; data: any; headers: Record<string, string> };
  }
  throw new Error('expected the SDK to throw');
}

describe('official Node SDK, self-built app', () => {
  let emulator: TestEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_sdk_selfbuild', EMULATOR_APP_SECRET: 'sdk-secret' });
  });
  afterAll(() => emulator.close());

  it('gets a tenant token by itself and sets badges, unchanged', async () => {
    const client = selfBuildClient(emulator);
    expect(await client.application.v6.appBadge.set(payload('ou_sdk', '1700000000001', 3))).toEqual({ code: 0, msg: 'success', data: {} });
    expect(await client.application.v6.appBadge.set(payload('ou_sdk', '1700000000002', 0))).toEqual({ code: 0, msg: 'success', data: {} });
    const readBack = (await emulator.get('/_emulator/badges/ou_sdk')).body;
    expect(readBack.pc).toEqual({ web_app: 0, gadget: 0, version: '1700000000002' });
    expect(readBack.mobile).toEqual({ web_app: 0, gadget: 0, version: '1700000000002' });
    const stats = await emulator.admin('stats');
    expect(stats.requests['tenant_access_token/internal']).toBe(1);
    expect(stats.tokens.tenantTokensIssued).toBe(1);
  });

  it('sees a version conflict as Feishu gives it: HTTP 400, code 213001, the latest version and a log id', async () => {
    const client = selfBuildClient(emulator);
    await client.application.v6.appBadge.set(payload('ou_conflict', '1700000000005', 1));
    const failure = await axiosFailure(client.application.v6.appBadge.set(payload('ou_conflict', '1700000000004', 2)));
    expect(failure.status).toBe(400);
    expect(failure.data).toEqual(
      expect.objectContaining({ code: 213001, msg: 'pc version conflict, latest version: 1700000000005', error: expect.any(Object) }),
    );
    expect(failure.headers['x-tt-logid']).toMatch(LOG_ID);
    expect(failure.data.error.log_id).toBe(failure.headers['x-tt-logid']);
  });

  it('sees a bad token given with withTenantToken as 99991663 at HTTP 400', async () => {
    const client = selfBuildClient(emulator, { disableTokenCache: true });
    const failure = await axiosFailure(client.application.v6.appBadge.set(payload('ou_bad_token', '1', 1), lark.withTenantToken('t-bad')));
    expect(failure.status).toBe(400);
    expect(failure.data.code).toBe(99991663);
    expect(failure.headers['x-tt-logid']).toMatch(LOG_ID);
  });

  it('fails to get a token with a wrong secret, reading code 10014 from an HTTP 200 answer', async () => {
    // A cache of its own, or the SDK would reuse the token cached for this app id above.
    const wrong = selfBuildClient(emulator, { appSecret: 'wrong-secret', cache: { get: async () => undefined, set: async () => true } });
    await expect(wrong.application.v6.appBadge.set(payload('ou_x', '1', 1))).rejects.toThrow(
      'failed to get tenant_access_token, code: 10014, msg: app secret invalid',
    );
  });
});

describe('official Node SDK, rate limit', () => {
  it('sees HTTP 429, code 99991400 and the x-ogw headers on the thrown axios error', async () => {
    const emulator = await startEmulator({ EMULATOR_APP_ID: 'cli_sdk_rate', EMULATOR_RATE_LIMIT: '1' }, { clock: new ManualClock() });
    try {
      const client = selfBuildClient(emulator);
      await client.application.v6.appBadge.set(payload('ou_rate', '1', 1));
      const failure = await axiosFailure(client.application.v6.appBadge.set(payload('ou_rate', '2', 1)));
      expect(failure.status).toBe(429);
      expect(failure.data).toEqual(expect.objectContaining({ code: 99991400, msg: 'request trigger frequency limit' }));
      expect(failure.headers['x-ogw-ratelimit-limit']).toBe('1');
      expect(failure.headers['x-ogw-ratelimit-reset']).toBe('1');
      expect(failure.headers['x-tt-logid']).toMatch(LOG_ID);
    } finally {
      await emulator.close();
    }
  });
});

describe('official Node SDK, store (ISV) app with the SDK event dispatcher as callback', () => {
  it('receives the encrypted app_ticket, trades it for tokens and sets a badge for a tenant', async () => {
    const encryptKey = 'sdk-encrypt-key';
    const dispatcher = new lark.EventDispatcher({ encryptKey, verificationToken: 'sdk-verify', logger: silent });
    const callback = http.createServer(lark.adaptDefault('/webhook/event', dispatcher));
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    const callbackUrl = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/webhook/event`;
    const emulator = await startEmulator({
      EMULATOR_APP_ID: 'cli_sdk_isv_custom',
      EMULATOR_STORE_APP_ID: 'cli_sdk_isv',
      EMULATOR_STORE_APP_SECRET: 'isv-secret',
      EMULATOR_EVENT_CALLBACK_URL: callbackUrl,
      EMULATOR_VERIFICATION_TOKEN: 'sdk-verify',
      EMULATOR_ENCRYPT_KEY: encryptKey,
    });
    try {
      // Creating an ISV client asks for an app_ticket resend right away.
      const client = new lark.Client({ appId: 'cli_sdk_isv', appSecret: 'isv-secret', appType: lark.AppType.ISV, domain: emulator.url, logger: silent });
      await waitFor('the ticket to reach the dispatcher', async () => (await emulator.admin('stats')).tokens.appTicketCallbacks.delivered === 1);

      const answer = await client.application.v6.appBadge.set(payload('ou_isv', '1700000000000', 5), lark.withTenantKey('tenant_sdk'));
      expect(answer).toEqual({ code: 0, msg: 'success', data: {} });
      const readBack = await emulator.get('/_emulator/badges/ou_isv', { query: { tenantKey: 'tenant_sdk' } });
      expect(readBack.body.pc).toEqual({ web_app: 5, gadget: 0, version: '1700000000000' });
      expect((await emulator.admin('stats')).requests).toEqual(
        expect.objectContaining({ 'app_ticket/resend': 1, app_access_token: 1, tenant_access_token: 1, 'app_badge/set': 1 }),
      );
    } finally {
      await emulator.close();
      callback.closeAllConnections();
      await new Promise((resolve) => callback.close(resolve));
    }
  });
});
