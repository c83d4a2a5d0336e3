import { INestApplication } from '@nestjs/common';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';
import { AUDIT_TOKEN, emulatorJson, startEmulator, startService } from '../support/stack';
import { scrape } from '../observability/observability-stack';
import { freePort } from '../support/ports';
import { EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';

jest.setTimeout(60_000);

const STORE = { id: 'cli_store_app', secret: 'store-app-secret-value-7', verification: 'verification-token-1234', encryptKey: 'encrypt-key-5678-abcd' };

interface Captured {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Between the emulator and the service's callback port: keeps every request; while `paused`, answers 503 itself. */
async function startRecordingProxy(): Promise<{ url: string; target: string; paused: boolean; captured: Captured[]; close(): Promise<void> }> {
  const proxy = { url: '', target: '', paused: true, captured: [] as Captured[], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (proxy.paused) return void res.writeHead(503).end();
      proxy.captured.push({ headers: req.headers, body });
      const r = await post(proxy.target, req.headers, body).catch(() => ({ status: 502, text: '' }));
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feishu/events`;
  proxy.close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return proxy;
}

async function post(url: string, headers: http.IncomingHttpHeaders | Record<string, string>, body: Buffer | string): Promise<{ status: number; text: string }> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string' && (k.startsWith('x-lark-') || k === 'content-type')) h[k] = v;
  const r = await fetch(url, { method: 'POST', headers: h, body: typeof body === 'string' ? body : new Uint8Array(body) });
  return { status: r.status, text: await r.text() };
}

/** What Feishu sends for an app_ticket with encryption on: v1 event, encrypted, signed over the exact body text. */
function signedTicket(ticket: string, o: { eventId?: string; createdAtS?: number; timestampS?: number; signKey?: string } = {}) {
  const event = {
    uuid: o.eventId ?? randomBytes(16).toString('hex'),
    token: STORE.verification,
    ts: (o.createdAtS ?? Date.now() / 1000).toFixed(7),
    type: 'event_callback',
    event: { app_id: STORE.id, app_ticket: ticket, type: 'app_ticket' },
  };
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(STORE.encryptKey).digest(), iv);
  const body = JSON.stringify({ encrypt: Buffer.concat([iv, cipher.update(JSON.stringify(event), 'utf8'), cipher.final()]).toString('base64') });
  const timestamp = String(Math.floor(o.timestampS ?? Date.now() / 1000));
  const nonce = randomBytes(8).toString('hex');
  const signature = createHash('sha256').update(timestamp + nonce + (o.signKey ?? STORE.encryptKey) + body).digest('hex');
  return { body, headers: { 'content-type': 'application/json; charset=utf-8', 'x-lark-request-timestamp': timestamp, 'x-lark-request-nonce': nonce, 'x-lark-signature': signature } };
}

describe('the store-app event callback', () => {
  let db: TestDatabase;
  let emulator: EmulatorHandle | undefined;
  const apps: INestApplication[] = [];
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>> | undefined;
  const portOf = (app: INestApplication) => (app.getHttpServer().address() as AddressInfo).port;

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await proxy?.close();
    proxy = undefined;
    await emulator?.close();
    emulator = undefined;
    await db?.drop();
  });

  it('is not mounted for a custom app (404)', async () => {
    db = await createTestDatabase('callbackcustom');
    emulator = await startEmulator();
    const app = await startService(db.url, emulator.url, { BADGE_ROLES: 'reconcile' });
    apps.push(app);
    const r = await post(`http://127.0.0.1:${portOf(app)}/feishu/events`, {}, JSON.stringify({ type: 'url_verification', challenge: 'c', token: 'x' }));
    expect(r.status).toBe(404);
  });

  it('stores a signed ticket from the emulator on its own port, and lets no forged, stale, replayed or older one change it', async () => {
    db = await createTestDatabase('callbackstore');
    proxy = await startRecordingProxy();
    const callbackPort = await freePort();
    proxy.target = `http://127.0.0.1:${callbackPort}/feishu/events`;
    emulator = await startEmulator({
      EMULATOR_STORE_APP_ID: STORE.id,
      EMULATOR_STORE_APP_SECRET: STORE.secret,
      EMULATOR_VERIFICATION_TOKEN: STORE.verification,
      EMULATOR_ENCRYPT_KEY: STORE.encryptKey,
      EMULATOR_EVENT_CALLBACK_URL: proxy.url,
      EMULATOR_STORE_TENANT_KEYS: 'tenant_a',
    });
    const app = await startService(db.url, emulator.url, {
      BADGE_ROLES: 'reconcile,api',
      FEISHU_APP_TYPE: 'store',
      FEISHU_APP_ID: STORE.id,
      FEISHU_APP_SECRET: STORE.secret,
      FEISHU_VERIFICATION_TOKEN: STORE.verification,
      FEISHU_ENCRYPT_KEY: STORE.encryptKey,
      FEISHU_CALLBACK_PORT: String(callbackPort),
    });
    apps.push(app);
    const base = `http://127.0.0.1:${portOf(app)}`;
    const callback = `http://127.0.0.1:${callbackPort}/feishu/events`;
    const stored = async (): Promise<string | null> => (await db.ds.query(`SELECT ticket FROM feishu_app_ticket`))[0]?.ticket ?? null;
    const stats = async () => (await (await fetch(`${base}/v1/stats`, { headers: { authorization: `Bearer ${AUDIT_TOKEN}` } })).json()) as any;
    const callbacks = async (outcome: string, reason = '') =>
      (await scrape(base)).sum('badge_feishu_callbacks_total', { outcome, reason });
    const resend = () => emulatorJson(emulator!, '/open-apis/auth/v3/app_ticket/resend', { method: 'POST', body: JSON.stringify({ app_id: STORE.id, app_secret: STORE.secret }) });

    // No ticket yet (the proxy turns deliveries away): still ready; the wait shows in /v1/stats and the metric.
    await waitFor('a delivery turned away', async () => (await emulatorJson(emulator!, '/_emulator/stats')).tokens.appTicketCallbacks.failed >= 1);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    expect((await stats()).appTicket).toEqual({ received: false, receivedAt: null });
    expect((await scrape(base)).sum('badge_feishu_app_ticket_received')).toBe(0);
    // The audit port does not serve the callback when it has a port of its own.
    expect((await post(`${base}/feishu/events`, {}, '{}')).status).toBe(404);

    // A good one, signed by the emulator, is stored.
    proxy.paused = false;
    await resend();
    const first = (await emulatorJson(emulator!, '/_emulator/app-ticket')).appTicket as string;
    await waitFor('the ticket stored', async () => (await stored()) === first);
    expect((await stats()).appTicket).toEqual({ received: true, receivedAt: expect.any(String) });
    expect((await scrape(base)).sum('badge_feishu_app_ticket_received')).toBe(1);
    const [emulated] = proxy.captured;
    expect(emulated.headers['x-lark-signature']).toMatch(/^[0-9a-f]{64}$/);

    const refusedBody = JSON.stringify({ msg: 'refused' });
    const expectRefused = async (r: { status: number; text: string }, reason: string, n: number) => {
      expect({ reason, status: r.status, text: r.text }).toEqual({ reason, status: 403, text: refusedBody });
      expect(await callbacks('refused', reason)).toBe(n);
      expect(await stored()).toBe(first);
    };
    // A bad signature: the emulator's request with one byte of its body changed; a new ticket signed with another key.
    const tampered = Buffer.from(emulated.body);
    tampered[tampered.length - 3] ^= 1;
    await expectRefused(await post(callback, emulated.headers, tampered), 'bad_signature', 1);
    const forged = signedTicket('forged-ticket', { signKey: 'not-the-key' });
    await expectRefused(await post(callback, forged.headers, forged.body), 'bad_signature', 2);
    // Well signed, but 6 minutes old.
    const stale = signedTicket('stale-ticket', { timestampS: Date.now() / 1000 - 360 });
    await expectRefused(await post(callback, stale.headers, stale.body), 'stale_timestamp', 1);
    // Unsigned.
    await expectRefused(await post(callback, { 'content-type': 'application/json' }, forged.body), 'unsigned', 1);

    // A second ticket, then the first request replayed exactly as the emulator sent it: seen, answered 200, nothing changes.
    await resend();
    const second = (await emulatorJson(emulator!, '/_emulator/app-ticket')).appTicket as string;
    expect(second).not.toBe(first);
    await waitFor('the second ticket stored', async () => (await stored()) === second);
    const replay = await post(callback, emulated.headers, emulated.body);
    expect(replay.status).toBe(200);
    expect(await callbacks('duplicate')).toBe(1);
    expect(await stored()).toBe(second);

    // A fresh, well-signed event carrying a ticket created before the stored one: never replaces it.
    const older = signedTicket('older-ticket', { createdAtS: Date.now() / 1000 - 120 });
    expect((await post(callback, older.headers, older.body)).status).toBe(200);
    expect(await callbacks('ticket_older')).toBe(1);
    expect(await stored()).toBe(second);
    expect(await callbacks('ticket_stored')).toBe(2);
  });

  it('verifies the signature on HTTP_PORT too, over the raw body Nest keeps', async () => {
    db = await createTestDatabase('callbackmain');
    const port = await freePort();
    emulator = await startEmulator({
      EMULATOR_STORE_APP_ID: STORE.id,
      EMULATOR_STORE_APP_SECRET: STORE.secret,
      EMULATOR_VERIFICATION_TOKEN: STORE.verification,
      EMULATOR_ENCRYPT_KEY: STORE.encryptKey,
      EMULATOR_EVENT_CALLBACK_URL: `http://127.0.0.1:${port}/feishu/events`,
    });
    apps.push(
      await startService(db.url, emulator.url, {
        FEISHU_APP_TYPE: 'store',
        FEISHU_APP_ID: STORE.id,
        FEISHU_APP_SECRET: STORE.secret,
        FEISHU_VERIFICATION_TOKEN: STORE.verification,
        FEISHU_ENCRYPT_KEY: STORE.encryptKey,
        HTTP_PORT: String(port),
      }),
    );
    // The service asks for a ticket a second after start; the emulator's signed delivery is taken.
    const stored = async (): Promise<string | null> => (await db.ds.query(`SELECT ticket FROM feishu_app_ticket`))[0]?.ticket ?? null;
    await waitFor('the ticket stored', async () => {
      const issued: string | undefined = (await emulatorJson(emulator!, '/_emulator/app-ticket'))?.appTicket;
      return typeof issued === 'string' && (await stored()) === issued;
    });
    const forged = signedTicket('forged-ticket', { signKey: 'not-the-key' });
    const r = await post(`http://127.0.0.1:${port}/feishu/events`, forged.headers, forged.body);
    expect({ status: r.status, text: r.text }).toEqual({ status: 403, text: JSON.stringify({ msg: 'refused' }) });
    expect(await stored()).toBe((await emulatorJson(emulator!, '/_emulator/app-ticket')).appTicket);
  });
});
