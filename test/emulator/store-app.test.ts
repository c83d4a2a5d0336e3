import { createDecipheriv, createHash } from 'node:crypto';
import { startCallbackServer } from './support/callback-server';
import { expectFeishuError, expectSuccess, startEmulator, waitFor, type TestEmulator } from './support/emulator-harness';

const STORE = { app_id: 'cli_store_app', app_secret: 'store-secret' };
const STORE_ENV = {
  EMULATOR_APP_ID: 'cli_custom_for_store_tests',
  EMULATOR_STORE_APP_ID: STORE.app_id,
  EMULATOR_STORE_APP_SECRET: STORE.app_secret,
  EMULATOR_VERIFICATION_TOKEN: 'verify-me',
};
const PATHS = {
  resend: '/open-apis/auth/v3/app_ticket/resend',
  appToken: '/open-apis/auth/v3/app_access_token',
  tenantToken: '/open-apis/auth/v3/tenant_access_token',
};
const badge = (userId: string, version: string, webApp: number) => ({ user_id: userId, version, pc: { web_app: webApp, gadget: 0 } });

function decrypt(encrypt: string, key: string): string {
  const bytes = Buffer.from(encrypt, 'base64');
  const decipher = createDecipheriv('aes-256-cbc', createHash('sha256').update(key).digest(), bytes.subarray(0, 16));
  return Buffer.concat([decipher.update(bytes.subarray(16)), decipher.final()]).toString('utf8');
}

describe('store app: app_ticket, app_access_token, tenant_access_token', () => {
  let callbacks: Awaited<ReturnType<typeof startCallbackServer>>;
  let emulator: TestEmulator;
  beforeAll(async () => {
    callbacks = await startCallbackServer();
    emulator = await startEmulator({ ...STORE_ENV, EMULATOR_EVENT_CALLBACK_URL: callbacks.url, EMULATOR_STORE_TENANT_KEYS: 'tenant_a,tenant_b' });
  });
  afterAll(async () => {
    await emulator.close();
    await callbacks.close();
  });

  const pushTicket = async (): Promise<string> => {
    const before = callbacks.received.length;
    const answer = await emulator.post(PATHS.resend, STORE);
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { code: 0, msg: 'ok' } });
    const received = await waitFor('the app_ticket callback', () => callbacks.received.length > before && callbacks.received[before]);
    return JSON.parse(received.body).event.app_ticket;
  };

  it('answers resend with ok and then POSTs an app_ticket event in Feishu v1 format to the callback URL', async () => {
    const before = callbacks.received.length;
    await emulator.post(PATHS.resend, STORE);
    const received = await waitFor('the app_ticket callback', () => callbacks.received[before]);
    expect(received.headers['content-type']).toMatch(/^application\/json/);
    const event = JSON.parse(received.body);
    expect(Object.keys(event).sort()).toEqual(['event', 'token', 'ts', 'type', 'uuid']);
    expect(event).toEqual({
      uuid: expect.stringMatching(/^[0-9a-f]{32}$/),
      token: 'verify-me',
      ts: expect.stringMatching(/^\d{10}\.\d+$/),
      type: 'event_callback',
      event: { app_id: STORE.app_id, app_ticket: expect.any(String), type: 'app_ticket' },
    });
    expect((await emulator.admin('app-ticket')).appTicket).toBe(event.event.app_ticket);
    await waitFor('the delivery count', async () => (await emulator.admin('stats')).tokens.appTicketCallbacks.delivered >= 1);
  });

  it('trades a pushed ticket for an app_access_token, and that for a token of one tenant', async () => {
    const ticket = await pushTicket();
    const app = await emulator.post(PATHS.appToken, { ...STORE, app_ticket: ticket });
    expect(app.status).toBe(200);
    expect(app.body).toEqual({ code: 0, msg: 'ok', app_access_token: expect.any(String), expire: 7200 });
    const tenant = await emulator.post(PATHS.tenantToken, { app_access_token: app.body.app_access_token, tenant_key: 'tenant_a' });
    expect(Object.keys(tenant.body)).toEqual(['code', 'msg', 'tenant_access_token', 'expire']);
    expect(tenant.body).toEqual({ code: 0, msg: 'ok', tenant_access_token: expect.stringMatching(/^t-/), expire: 7200 });
  });

  it('keeps badges per tenant: a tenant token sets that tenant only', async () => {
    const ticket = await pushTicket();
    const appToken = (await emulator.post(PATHS.appToken, { ...STORE, app_ticket: ticket })).body.app_access_token;
    const tokenOf = async (tenant_key: string) =>
      (await emulator.post(PATHS.tenantToken, { app_access_token: appToken, tenant_key })).body.tenant_access_token as string;
    const [tokenA, tokenB] = [await tokenOf('tenant_a'), await tokenOf('tenant_b')];
    expect(tokenA).not.toBe(tokenB);

    expectSuccess(await emulator.setBadge(tokenA, badge('ou_shared', '100', 7)));
    expectSuccess(await emulator.setBadge(tokenB, badge('ou_shared', '50', 3)));
    expectSuccess(await emulator.setBadge(await emulator.tenantToken(), badge('ou_shared', '1', 1)));

    expect((await emulator.get('/_emulator/badges/ou_shared', { query: { tenantKey: 'tenant_a' } })).body.pc).toEqual({
      web_app: 7,
      gadget: 0,
      version: '100',
    });
    expect((await emulator.get('/_emulator/badges/ou_shared', { query: { tenantKey: 'tenant_b' } })).body.pc.web_app).toBe(3);
    expect((await emulator.get('/_emulator/badges/ou_shared')).body).toEqual(expect.objectContaining({ tenantKey: 'tenant_emulator' }));
    expect((await emulator.admin('stats')).rateLimit.maxAcceptedPerWindow['app_badge/set']).toEqual(
      expect.objectContaining({ [`${STORE.app_id}/tenant_a`]: 1, [`${STORE.app_id}/tenant_b`]: 1 }),
    );
  });

  it('answers app_access_token without a valid ticket with 10012', async () => {
    expectFeishuError(await emulator.post(PATHS.appToken, { ...STORE, app_ticket: 'not-a-ticket' }), 200, 10012);
    expectFeishuError(await emulator.post(PATHS.appToken, STORE), 200, 10012);
  });

  it('checks the store app credentials on resend and app_access_token', async () => {
    expectFeishuError(await emulator.post(PATHS.resend, { ...STORE, app_secret: 'wrong' }), 200, 10014);
    expectFeishuError(await emulator.post(PATHS.resend, { app_id: 'cli_custom_for_store_tests', app_secret: 'emulator-secret' }), 200, 10003);
    const ticket = await pushTicket();
    expectFeishuError(await emulator.post(PATHS.appToken, { ...STORE, app_secret: 'wrong', app_ticket: ticket }), 200, 10014);
  });

  it('refuses a tenant outside the configured list and an unknown app_access_token', async () => {
    const ticket = await pushTicket();
    const appToken = (await emulator.post(PATHS.appToken, { ...STORE, app_ticket: ticket })).body.app_access_token;
    expectFeishuError(await emulator.post(PATHS.tenantToken, { app_access_token: appToken, tenant_key: 'tenant_z' }), 200, 10003);
    expectFeishuError(await emulator.post(PATHS.tenantToken, { app_access_token: 'a-unknown', tenant_key: 'tenant_a' }), 200, 99991664);
  });

  it('does not take the store app_access_token as a tenant token on business calls', async () => {
    const ticket = await pushTicket();
    const appToken = (await emulator.post(PATHS.appToken, { ...STORE, app_ticket: ticket })).body.app_access_token;
    expectFeishuError(await emulator.setBadge(appToken, badge('ou_x', '1', 1)), 400, 99991663);
  });
});

describe('store app: encrypted app_ticket event', () => {
  const ENCRYPT_KEY = 'my-encrypt-key';
  let callbacks: Awaited<ReturnType<typeof startCallbackServer>>;
  let emulator: TestEmulator;
  beforeAll(async () => {
    callbacks = await startCallbackServer();
    emulator = await startEmulator({ ...STORE_ENV, EMULATOR_EVENT_CALLBACK_URL: callbacks.url, EMULATOR_ENCRYPT_KEY: ENCRYPT_KEY });
  });
  afterAll(async () => {
    await emulator.close();
    await callbacks.close();
  });

  it('sends {"encrypt": base64(iv + AES-256-CBC(sha256(key), event))} with a Lark signature', async () => {
    await emulator.post(PATHS.resend, STORE);
    const received = await waitFor('the encrypted callback', () => callbacks.received[0]);
    const outer = JSON.parse(received.body);
    expect(Object.keys(outer)).toEqual(['encrypt']);
    const event = JSON.parse(decrypt(outer.encrypt, ENCRYPT_KEY));
    expect(event).toEqual(
      expect.objectContaining({ token: 'verify-me', type: 'event_callback', event: expect.objectContaining({ type: 'app_ticket', app_id: STORE.app_id }) }),
    );
    const timestamp = received.headers['x-lark-request-timestamp'] as string;
    const nonce = received.headers['x-lark-request-nonce'] as string;
    const expected = createHash('sha256').update(timestamp + nonce + ENCRYPT_KEY + received.body).digest('hex');
    expect(received.headers['x-lark-signature']).toBe(expected);

    const app = await emulator.post(PATHS.appToken, { ...STORE, app_ticket: event.event.app_ticket });
    expect(app.body.code).toBe(0);
  });
});

describe('store app: callback trouble', () => {
  it('answers resend with ok even when the callback fails, and counts the failure', async () => {
    const callbacks = await startCallbackServer((_req, res) => res.writeHead(500).end());
    const emulator = await startEmulator({ ...STORE_ENV, EMULATOR_EVENT_CALLBACK_URL: callbacks.url });
    try {
      expect((await emulator.post(PATHS.resend, STORE)).body).toEqual({ code: 0, msg: 'ok' });
      await waitFor('the failed delivery', async () => (await emulator.admin('stats')).tokens.appTicketCallbacks.failed === 1);
    } finally {
      await emulator.close();
      await callbacks.close();
    }
  });
});
