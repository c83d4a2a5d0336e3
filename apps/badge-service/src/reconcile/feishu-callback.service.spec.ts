import { Logger } from '@nestjs/common';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { configServiceOf, loadConfig } from '@badges/config';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { AppTicketSync } from './app-ticket.sync';
import { FeishuCallbackService } from './feishu-callback.service';

const KEY = 'encrypt-key-for-unit';
const TOKEN = 'verification-for-unit';
const NOW = Date.parse('2026-12-01T12:00:00Z');

const encrypt = (o: unknown) => {
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', createHash('sha256').update(KEY).digest(), iv);
  return JSON.stringify({ encrypt: Buffer.concat([iv, c.update(JSON.stringify(o), 'utf8'), c.final()]).toString('base64') });
};
const signed = (body: string, tsS = NOW / 1000) => {
  const timestamp = String(tsS);
  return {
    rawBody: Buffer.from(body),
    headers: { 'x-lark-request-timestamp': timestamp, 'x-lark-request-nonce': 'n', 'x-lark-signature': createHash('sha256').update(timestamp + 'n' + KEY + body).digest('hex') },
  };
};
const ticketEvent = (appId = 'cli_store', ticket = 't-1') => ({ uuid: 'ev-1', token: TOKEN, ts: '1764590000.5', type: 'event_callback', event: { type: 'app_ticket', app_id: appId, app_ticket: ticket } });

describe('FeishuCallbackService', () => {
  const config = loadConfig({ BADGE_ROLES: 'ingest', FEISHU_APP_TYPE: 'store', FEISHU_APP_ID: 'cli_store', FEISHU_ENCRYPT_KEY: KEY, FEISHU_VERIFICATION_TOKEN: TOKEN });
  let now = NOW;
  const clock = { now: () => now } as Clock;
  let received: unknown[][];
  let sut: FeishuCallbackService;
  let metrics: Metrics;
  let warnings: unknown[][];

  beforeEach(() => {
    now = NOW;
    received = [];
    warnings = [];
    metrics = new Metrics();
    const tickets = { received: async (...args: unknown[]) => (received.push(args), 'stored') } as unknown as AppTicketSync;
    sut = new FeishuCallbackService(configServiceOf(config), tickets, metrics, clock);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args));
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  const count = async (outcome: string, reason = '') => (await metrics.callbacks.get()).values.find((v) => v.labels.outcome === outcome && v.labels.reason === reason)?.value ?? 0;

  it('takes a signed ticket, ordered by the event creation time and keyed by its id', async () => {
    expect(await sut.handle(signed(encrypt(ticketEvent())))).toEqual({ status: 200, body: {} });
    expect(received).toEqual([['t-1', new Date(1764590000500), 'ev-1']]);
  });

  it('answers an encrypted challenge without signature headers, but takes no event without them', async () => {
    expect(await sut.handle({ rawBody: Buffer.from(encrypt({ type: 'url_verification', challenge: 'ch', token: TOKEN })), headers: {} })).toEqual({ status: 200, body: { challenge: 'ch' } });
    expect(await sut.handle({ rawBody: Buffer.from(encrypt(ticketEvent())), headers: {} })).toEqual({ status: 403, body: { msg: 'refused' } });
    expect(received).toEqual([]);
    expect(await count('refused', 'unsigned')).toBe(1);
  });

  it.each([
    ['another app', () => signed(encrypt(ticketEvent('cli_other'))), 'other_app'],
    ['a bad verification token', () => signed(encrypt({ ...ticketEvent(), token: 'wrong' })), 'bad_token'],
    ['a plaintext body', () => signed(JSON.stringify(ticketEvent())), 'not_encrypted'],
    ['no raw body', () => ({ rawBody: null, headers: {} }), 'no_raw_body'],
  ])('refuses %s, saying nothing of why', async (_name, request, reason) => {
    expect(await sut.handle(request())).toEqual({ status: 403, body: { msg: 'refused' } });
    expect(received).toEqual([]);
    expect(await count('refused', reason)).toBe(1);
  });

  it('logs a refusal reason once a minute, with how many went unlogged', async () => {
    const bad = { ...signed(encrypt(ticketEvent())), headers: { ...signed('x').headers } };
    for (let i = 0; i < 5; i++) await sut.handle(bad);
    expect(warnings).toEqual([[{ reason: 'bad_signature', suppressedSinceLast: 0 }, 'event callback refused']]);
    now += 60_000;
    await sut.handle({ ...bad, headers: { ...bad.headers, 'x-lark-request-timestamp': String(now / 1000) } });
    expect(warnings[1]).toEqual([{ reason: 'bad_signature', suppressedSinceLast: 4 }, 'event callback refused']);
    expect(await count('refused', 'bad_signature')).toBe(6);
  });
});
