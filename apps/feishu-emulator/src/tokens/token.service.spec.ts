import { ManualClock } from '../../testing/manual-clock';
import { ScriptedRandom } from '../../testing/scripted-random';
import { FeishuError } from '../common/feishu.error';
import { parseEmulatorConfig } from '../config/emulator.config';
import { FaultInjector } from '../faults/fault-injector.service';
import { GatewayService } from '../gateway/gateway.service';
import { RateLimiter } from '../gateway/rate-limiter.service';
import type { AppTicketPusher } from './app-ticket.pusher';
import { TokenService } from './token.service';

const SECOND = 1000;

function setup(env: Record<string, string> = {}) {
  const config = parseEmulatorConfig({
    EMULATOR_APP_ID: 'cli_custom',
    EMULATOR_APP_SECRET: 'custom-secret',
    EMULATOR_TOKEN_TTL_SECONDS: '100',
    EMULATOR_TOKEN_REFRESH_RATIO: '0.25',
    EMULATOR_STORE_APP_ID: 'cli_store',
    EMULATOR_STORE_APP_SECRET: 'store-secret',
    ...env,
  });
  const clock = new ManualClock();
  const random = new ScriptedRandom();
  const gateway = new GatewayService(new FaultInjector(config, clock, random), new RateLimiter(config, clock));
  const pushed: Array<{ appId: string; ticket: string }> = [];
  const pusher = {
    push: async (appId: string, ticket: string) => {
      pushed.push({ appId, ticket });
    },
  } as unknown as AppTicketPusher;
  const sut = new TokenService(config, clock, random, gateway, pusher);
  const customToken = () => sut.issueCustomTenantToken({ app_id: 'cli_custom', app_secret: 'custom-secret' });
  return { sut, clock, pushed, customToken };
}

function feishuError(fn: () => unknown): FeishuError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FeishuError) return error;
    throw error;
  }
  throw new Error('expected a FeishuError');
}

describe('TokenService: custom app tenant tokens', () => {
  it('answers flat, with the lifetime in seconds', () => {
    const { customToken } = setup();
    expect(customToken()).toEqual({ code: 0, msg: 'ok', tenant_access_token: expect.stringMatching(/^t-[0-9a-f]{40}$/), expire: 100 });
  });

  it('returns the same token while more than the threshold (a quarter of the lifetime) is left', () => {
    const { clock, customToken } = setup();
    const first = customToken();
    clock.advance(74 * SECOND);
    const again = customToken();
    expect(again.tenant_access_token).toBe(first.tenant_access_token);
    expect(again.expire).toBe(26);
  });

  it('issues a new token once no more than the threshold is left, and the old one works until it expires', () => {
    const { sut, clock, customToken } = setup();
    const first = customToken();
    clock.advance(75 * SECOND);
    const second = customToken();
    expect(second.tenant_access_token).not.toBe(first.tenant_access_token);
    expect(second.expire).toBe(100);

    clock.advance(25 * SECOND - 1);
    expect(sut.authenticate(`Bearer ${first.tenant_access_token}`)).toEqual(expect.objectContaining({ appId: 'cli_custom' }));
    clock.advance(1);
    expect(feishuError(() => sut.authenticate(`Bearer ${first.tenant_access_token}`)).code).toBe(99991663);
    expect(sut.authenticate(`Bearer ${second.tenant_access_token}`).tenantKey).toBe('tenant_emulator');
    expect(customToken().tenant_access_token).toBe(second.tenant_access_token);
  });

  it('scales the threshold with a lifetime changed at run time and shortens live tokens to it', () => {
    const { sut, clock, customToken } = setup();
    const first = customToken();
    sut.updateSettings({ ttlSeconds: 8 });
    expect(customToken()).toEqual(expect.objectContaining({ tenant_access_token: first.tenant_access_token, expire: 8 }));
    clock.advance(6 * SECOND);
    const second = customToken();
    expect(second).toEqual(expect.objectContaining({ expire: 8 }));
    expect(second.tenant_access_token).not.toBe(first.tenant_access_token);
    clock.advance(2 * SECOND);
    expect(feishuError(() => sut.authenticate(`Bearer ${first.tenant_access_token}`)).code).toBe(99991663);
  });

  it('refuses an unknown app with 10003 and a wrong secret with 10014, at the configured HTTP status', () => {
    const { sut } = setup();
    expect(feishuError(() => sut.issueCustomTenantToken({ app_id: 'cli_other', app_secret: 'custom-secret' }))).toMatchObject({
      status: 200,
      code: 10003,
    });
    expect(feishuError(() => sut.issueCustomTenantToken({ app_id: 'cli_custom', app_secret: 'nope' }))).toMatchObject({
      status: 200,
      code: 10014,
      msg: 'app secret invalid',
    });
    const strict = setup({ EMULATOR_TOKEN_ERROR_HTTP_STATUS: '400' }).sut;
    expect(feishuError(() => strict.issueCustomTenantToken({ app_id: 'cli_custom', app_secret: 'nope' })).status).toBe(400);
  });
});

describe('TokenService: authenticate', () => {
  it.each([
    [undefined, 99991661],
    ['', 99991661],
    ['t-abc', 99991661],
    ['Basic dXNlcjpwYXNz', 99991661],
    ['Bearer ', 99991661],
    ['Bearer not a token', 99991671],
    ['Bearer abc', 99991671],
    ['Bearer t-unknown', 99991663],
  ])('answers %j with %d at HTTP 400', (header, code) => {
    const { sut } = setup();
    expect(feishuError(() => sut.authenticate(header))).toMatchObject({ status: 400, code });
  });

  it('does not take an app_access_token for a tenant token', () => {
    const { sut } = setup();
    sut.resendAppTicket({ app_id: 'cli_store', app_secret: 'store-secret' });
    const ticket = sut.latestAppTicket()!.appTicket;
    const { app_access_token } = sut.issueAppAccessToken({ app_id: 'cli_store', app_secret: 'store-secret', app_ticket: ticket });
    expect(feishuError(() => sut.authenticate(`Bearer ${app_access_token}`)).code).toBe(99991663);
  });

  it('stops every token when told to expire them all', () => {
    const { sut, customToken } = setup();
    const { tenant_access_token } = customToken();
    expect(sut.expireAll()).toBe(1);
    expect(feishuError(() => sut.authenticate(`Bearer ${tenant_access_token}`)).code).toBe(99991663);
    expect(customToken().tenant_access_token).not.toBe(tenant_access_token);
  });
});

describe('TokenService: store app chain', () => {
  it('pushes a ticket, trades it for an app token, then for a token of one tenant', () => {
    const { sut, pushed } = setup();
    expect(sut.resendAppTicket({ app_id: 'cli_store', app_secret: 'store-secret' })).toEqual({ code: 0, msg: 'ok' });
    expect(pushed).toEqual([{ appId: 'cli_store', ticket: sut.latestAppTicket()!.appTicket }]);

    const app = sut.issueAppAccessToken({ app_id: 'cli_store', app_secret: 'store-secret', app_ticket: pushed[0].ticket });
    expect(app).toEqual({ code: 0, msg: 'ok', app_access_token: expect.stringMatching(/^a-/), expire: 100 });
    const tenant = sut.issueStoreTenantToken({ app_access_token: app.app_access_token, tenant_key: 'tenant_a' });
    expect(sut.authenticate(`Bearer ${tenant.tenant_access_token}`)).toEqual(
      expect.objectContaining({ appId: 'cli_store', tenantKey: 'tenant_a' }),
    );
    const other = sut.issueStoreTenantToken({ app_access_token: app.app_access_token, tenant_key: 'tenant_b' });
    expect(other.tenant_access_token).not.toBe(tenant.tenant_access_token);
  });

  it('answers 10012 for a missing, unknown or expired ticket', () => {
    const { sut, clock, pushed } = setup({ EMULATOR_APP_TICKET_TTL_SECONDS: '60' });
    const ask = (app_ticket: unknown) => () =>
      sut.issueAppAccessToken({ app_id: 'cli_store', app_secret: 'store-secret', app_ticket });
    expect(feishuError(ask(undefined)).code).toBe(10012);
    expect(feishuError(ask('nope')).code).toBe(10012);
    sut.resendAppTicket({ app_id: 'cli_store', app_secret: 'store-secret' });
    clock.advance(60 * SECOND);
    expect(feishuError(ask(pushed[0].ticket)).code).toBe(10012);
  });

  it('refuses a bad app token and, with a tenant list, an unknown tenant', () => {
    const { sut, pushed } = setup({ EMULATOR_STORE_TENANT_KEYS: 'tenant_a' });
    expect(feishuError(() => sut.issueStoreTenantToken({ app_access_token: 'a-nope', tenant_key: 'tenant_a' })).code).toBe(99991664);
    sut.resendAppTicket({ app_id: 'cli_store', app_secret: 'store-secret' });
    const app = sut.issueAppAccessToken({ app_id: 'cli_store', app_secret: 'store-secret', app_ticket: pushed[0].ticket });
    expect(feishuError(() => sut.issueStoreTenantToken({ app_access_token: app.app_access_token, tenant_key: 'tenant_z' })).code).toBe(
      10003,
    );
  });
});
