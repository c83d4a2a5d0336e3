import { FeishuAuthError } from './feishu-auth.error';
import { FEISHU_PATH } from './feishu.constants';
import type { FeishuLogger } from './feishu.logger';
import type { HttpPostResult } from './http.transport';
import { StoreAppTokenProvider } from './store-app-token.provider';
import { FakeClock } from './testing/fake-clock';
import { deferred, jsonResponse, networkError, settled, StrictFakeTransport } from './testing/strict-fake-transport';

const BASE_URL = 'http://feishu.test';
const SECRET = 'store-secret-0123456789abcdef';
const { APP_TICKET_RESEND: RESEND, APP_ACCESS_TOKEN: APP_TOKEN, TENANT_ACCESS_TOKEN: TENANT_TOKEN } = FEISHU_PATH;

const ok = jsonResponse(200, { code: 0, msg: 'ok' });
const appToken = (token: string, expire = 7200): HttpPostResult => jsonResponse(200, { code: 0, msg: 'ok', app_access_token: token, expire });
const tenantToken = (token: string, expire = 7200): HttpPostResult => jsonResponse(200, { code: 0, msg: 'ok', tenant_access_token: token, expire });
const ticketInvalid = jsonResponse(400, { code: 10012, msg: 'app_ticket is invalid' }, { 'x-tt-logid': 'log-10012' });

describe('StoreAppTokenProvider', () => {
  let transport: StrictFakeTransport;
  let clock: FakeClock;
  let warnings: string[];
  let sut: StoreAppTokenProvider;

  beforeEach(() => {
    transport = new StrictFakeTransport();
    clock = new FakeClock();
    warnings = [];
    const logger: FeishuLogger = { debug: () => undefined, warn: (_fields, msg) => warnings.push(msg) };
    sut = new StoreAppTokenProvider(transport, { baseUrl: BASE_URL, appId: 'cli_store', appSecret: SECRET }, clock, logger);
  });

  afterEach(() => transport.verify());

  it('walks app_ticket → app_access_token → tenant_access_token', async () => {
    sut.setAppTicket('ticket-1');
    transport.on(APP_TOKEN, appToken('a-1')).on(TENANT_TOKEN, tenantToken('t-tenant-a'));

    await expect(sut.getToken('tenant-a')).resolves.toBe('t-tenant-a');

    expect(transport.callsTo(APP_TOKEN)[0]?.body).toEqual({ app_id: 'cli_store', app_secret: SECRET, app_ticket: 'ticket-1' });
    expect(transport.callsTo(TENANT_TOKEN)[0]?.body).toEqual({ app_access_token: 'a-1', tenant_key: 'tenant-a' });
  });

  it('keeps one token per tenant and reuses the app_access_token', async () => {
    sut.setAppTicket('ticket-1');
    transport.on(APP_TOKEN, appToken('a-1')).on(TENANT_TOKEN, tenantToken('t-a'), tenantToken('t-b'));

    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a');
    await expect(sut.getToken('tenant-b')).resolves.toBe('t-b');
    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a');

    expect(transport.callsTo(APP_TOKEN)).toHaveLength(1);
    expect(transport.callsTo(TENANT_TOKEN).map((c) => c.body)).toEqual([
      { app_access_token: 'a-1', tenant_key: 'tenant-a' },
      { app_access_token: 'a-1', tenant_key: 'tenant-b' },
    ]);
  });

  it('runs one fetch per tenant and one app_access_token fetch for 100 concurrent callers', async () => {
    sut.setAppTicket('ticket-1');
    const app = deferred<HttpPostResult>();
    transport.on(APP_TOKEN, () => app.promise).on(TENANT_TOKEN, tenantToken('t-a'), tenantToken('t-b'));

    const waiting = Array.from({ length: 100 }, (_, i) => sut.getToken(i % 2 === 0 ? 'tenant-a' : 'tenant-b'));
    app.resolve(appToken('a-1'));
    const tokens = await Promise.all(waiting);

    expect(new Set(tokens.filter((_, i) => i % 2 === 0))).toEqual(new Set(['t-a']));
    expect(new Set(tokens.filter((_, i) => i % 2 === 1))).toEqual(new Set(['t-b']));
    expect(transport.callsTo(APP_TOKEN)).toHaveLength(1);
    expect(transport.callsTo(TENANT_TOKEN)).toHaveLength(2);
  });

  it('fails fast without a ticket, asking Feishu to resend one at most once per interval', async () => {
    transport.on(RESEND, ok);

    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ name: 'FeishuAuthError', reason: 'app_ticket_missing', endpoint: APP_TOKEN });
    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ reason: 'app_ticket_missing' });
    expect(transport.callsTo(RESEND)).toHaveLength(1);
    expect(transport.callsTo(RESEND)[0]?.body).toEqual({ app_id: 'cli_store', app_secret: SECRET });

    clock.advance(30_000);
    transport.on(RESEND, ok);
    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ reason: 'app_ticket_missing' });
    expect(transport.callsTo(RESEND)).toHaveLength(2);
  });

  it('still fails fast, with a warning, when the resend itself fails', async () => {
    transport.on(RESEND, networkError('timeout'));

    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ reason: 'app_ticket_missing' });
    expect(warnings).toEqual(['Feishu app_ticket resend failed']);
  });

  it('works once the ticket arrives', async () => {
    transport.on(RESEND, ok);
    await expect(sut.getToken('tenant-a')).rejects.toBeInstanceOf(FeishuAuthError);

    sut.setAppTicket('ticket-1');
    transport.on(APP_TOKEN, appToken('a-1')).on(TENANT_TOKEN, tenantToken('t-a'));

    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a');
    expect(sut.hasAppTicket()).toBe(true);
  });

  it('drops a ticket Feishu calls invalid (10012) and asks for a new one', async () => {
    sut.setAppTicket('ticket-bad');
    transport.on(APP_TOKEN, ticketInvalid).on(RESEND, ok);

    const error = await sut.getToken('tenant-a').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FeishuAuthError);
    expect(error).toMatchObject({ reason: 'app_ticket_invalid', code: 10012, logId: 'log-10012', httpStatus: 400 });
    expect(String(error)).not.toContain('ticket-bad');
    expect(sut.hasAppTicket()).toBe(false);
    expect(transport.callsTo(RESEND)).toHaveLength(1);
  });

  it('keeps a ticket that arrived while the rejected one was in use', async () => {
    sut.setAppTicket('ticket-old');
    transport.on(APP_TOKEN, () => {
      sut.setAppTicket('ticket-new');
      return ticketInvalid;
    });
    transport.on(RESEND, ok);

    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ reason: 'app_ticket_invalid' });

    transport.on(APP_TOKEN, appToken('a-1')).on(TENANT_TOKEN, tenantToken('t-a'));
    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a');
    expect(transport.callsTo(APP_TOKEN)[1]?.body).toMatchObject({ app_ticket: 'ticket-new' });
  });

  it('replaces a refused app_access_token once when fetching a tenant token', async () => {
    sut.setAppTicket('ticket-1');
    transport
      .on(APP_TOKEN, appToken('a-1'), appToken('a-2'))
      .on(TENANT_TOKEN, jsonResponse(400, { code: 99991664, msg: 'invalid app token' }), tenantToken('t-a'));

    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a');
    expect(transport.callsTo(TENANT_TOKEN).map((c) => c.body)).toEqual([
      { app_access_token: 'a-1', tenant_key: 'tenant-a' },
      { app_access_token: 'a-2', tenant_key: 'tenant-a' },
    ]);
  });

  it('gives up after that one replacement', async () => {
    sut.setAppTicket('ticket-1');
    const refused = jsonResponse(400, { code: 99991664, msg: 'invalid app token' });
    transport.on(APP_TOKEN, appToken('a-1'), appToken('a-2')).on(TENANT_TOKEN, refused, refused);

    await expect(sut.getToken('tenant-a')).rejects.toMatchObject({ reason: 'rejected', code: 99991664 });
  });

  it('refuses an empty tenant key without any request', async () => {
    await expect(sut.getToken('')).rejects.toMatchObject({ reason: 'tenant_key_missing' });
    expect(transport.calls).toHaveLength(0);
  });

  it('refreshes each tenant ahead of expiry and honours invalidate per tenant', async () => {
    sut.setAppTicket('ticket-1');
    transport.on(APP_TOKEN, appToken('a-1', 7200)).on(TENANT_TOKEN, tenantToken('t-a1', 3600), tenantToken('t-b1', 7200));
    await sut.getToken('tenant-a');
    await sut.getToken('tenant-b');

    sut.invalidate('tenant-b', 't-a1');
    clock.advance((3600 - 300) * 1000);
    transport.on(TENANT_TOKEN, tenantToken('t-a2', 3600));

    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a1'); // still valid: refreshed behind it
    await settled();
    await expect(sut.getToken('tenant-a')).resolves.toBe('t-a2');
    await expect(sut.getToken('tenant-b')).resolves.toBe('t-b1');

    sut.invalidate('tenant-b', 't-b1');
    transport.on(TENANT_TOKEN, tenantToken('t-b2'));
    await expect(sut.getToken('tenant-b')).resolves.toBe('t-b2');
  });

  it('requestAppTicket reports a refused resend as a FeishuAuthError', async () => {
    transport.on(RESEND, jsonResponse(400, { code: 10003, msg: 'invalid app_id' }));

    await expect(sut.requestAppTicket()).rejects.toMatchObject({ name: 'FeishuAuthError', reason: 'rejected', code: 10003, endpoint: RESEND });
  });
});
