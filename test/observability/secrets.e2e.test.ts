import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { createTopic, deleteTopics, OutMessage, produce, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { runNode, SERVICE_MAIN, WatchedProcess } from '../support/service';
import { APP_ID, startWatchedEmulator } from '../support/stack';
import { freePort } from '../support/ports';
import { scrape, startWatchedService } from './observability-stack';

jest.setTimeout(90_000);

const secret = (label: string) => `${label}-${randomBytes(16).toString('hex')}`;

/**
 * The whole stack as processes, the service at LOG_LEVEL=debug, driven through every door that handles a credential:
 * tenant tokens fetched, refreshed before expiry, refused by Feishu and refetched, fetched during an outage; the audit
 * API with good and bad bearer tokens; a replica configured with a wrong app secret. Then no line either process
 * wrote may contain the app secret, any tenant token the emulator issued, or any audit token.
 */
describe('secrets never reach the logs', () => {
  const appSecret = secret('app-secret');
  const wrongAppSecret = secret('wrong-app-secret');
  const auditTokens = [secret('audit-token'), secret('audit-token')];
  const wrongAuditToken = secret('not-an-audit-token');
  const kafkaPassword = secret('kafka-sasl-password');
  let secretDir: string | undefined;
  // The machine's Postgres trusts local connections and ignores it, but it is in DATABASE_URL like a real one.
  const databasePassword = secret('database-password');
  // Only ever in the bound parameters of a statement the database refuses (a check constraint added for it).
  const refusedSource = `leak-${randomBytes(12).toString('hex')}`;
  const TOKEN_TTL_SECONDS = 3;

  let db: TestDatabase;
  let databaseUrl: string;
  let topic: string;
  let emulator: WatchedProcess;
  const services: WatchedProcess[] = [];
  const issuedTokens = new Set<string>();
  let capturing = true;
  let capturer: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    db = await createTestDatabase('secrets');
    databaseUrl = db.url.replace('postgres://postgres@', `postgres://postgres:${databasePassword}@`);
    topic = uniqueName('secrets');
    await createTopic(topic, 3);
    emulator = await startWatchedEmulator(appSecret, {
      EMULATOR_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS),
      // A token is handed out again while more than half its life is left, so every issued token stays current
      // for at least 1.5 s: polling every 200 ms sees each one.
      EMULATOR_TOKEN_REFRESH_RATIO: '0.5',
      EMULATOR_LOG_REQUESTS: 'true',
      EMULATOR_INVALID_USERS: 'ou_sec_parked',
    });
    capturer = captureTokens();
  });
  afterAll(async () => {
    capturing = false;
    await capturer;
    await Promise.all(services.map((s) => s.stop()));
    await emulator?.stop();
    await deleteTopics(topic, `${topic}.dlq`);
    await db?.drop();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  });

  /** Asks the emulator for the tenant token with the app's credentials: it answers with the token it last issued. */
  async function captureTokens(): Promise<void> {
    while (capturing) {
      const r = await fetch(`${emulator.url}/open-apis/auth/v3/tenant_access_token/internal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ app_id: APP_ID, app_secret: appSecret }),
      }).catch(() => null);
      const body = ((await r?.json().catch(() => null)) ?? {}) as { tenant_access_token?: string };
      if (body.tenant_access_token) issuedTokens.add(body.tenant_access_token);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const emu = async (path: string, body?: unknown) => {
    const r = await fetch(`${emulator.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await r.json()) as any;
  };

  /** Every token issued so far has been seen: call before tokens are expired, so none is dropped unseen. */
  const tokensCaughtUp = () =>
    waitFor('every issued tenant token captured', async () => issuedTokens.size === (await emu('/_emulator/stats')).tokens.tenantTokensIssued, 10_000, 50);

  const USERS = Array.from({ length: 12 }, (_, i) => `ou_sec_${i}`);
  let sequence = 0;
  /** New counts for every user; resolves when the emulator shows all of them. */
  async function wave(): Promise<void> {
    const q = ++sequence;
    await produce(topic, USERS.map((u, i) => ({ key: u, value: wire(event(u, 'approval', q, counts(q, i % 3))) })));
    await waitFor(
      `wave ${q} at the emulator`,
      async () => {
        for (const u of USERS) {
          const b = await emu(`/_emulator/badges/${u}`);
          if (b?.pc?.web_app !== q) return false;
        }
        return true;
      },
      20_000,
      100,
    );
  }

  it('keeps the app secret, every tenant token, every audit token and the Kafka password out of every line of output', async () => {
    const service = await startWatchedService({
      databaseUrl,
      topic,
      groupId: uniqueName('secrets'),
      emulatorUrl: emulator.url,
      appSecret,
      auditTokens,
      env: { LOG_LEVEL: 'debug' },
      track: services,
    });

    // Events in through Kafka, including malformed ones (dead-lettered) and a user Feishu refuses (parked).
    const malformed: OutMessage[] = [
      { key: 'bad-1', value: '{ not json' },
      { key: 'bad-2', value: JSON.stringify({ ...JSON.parse(wire(event('ou_x', 'approval', 1, counts(1)))), sequence: 'one' }) },
    ];
    await produce(topic, [...malformed, { key: 'ou_sec_parked', value: wire(event('ou_sec_parked', 'approval', 1, counts(4))) }]);
    await wave();

    // The audit API, with good and bad credentials.
    const responses: string[] = [];
    const api = async (path: string, authorization?: string, method = 'GET') => {
      const r = await fetch(`${service.url}${path}`, { method, headers: authorization === undefined ? {} : { authorization } });
      responses.push(`${r.status} ${JSON.stringify([...r.headers])} ${await r.text()}`);
      return r.status;
    };
    const good = `Bearer ${auditTokens[0]}`;
    await waitFor('ou_sec_parked parked', async () => (await api('/v1/badges?status=parked', good)) === 200 && responses.at(-1)!.includes('ou_sec_parked'), 20_000, 200);
    expect(await api('/v1/badges/ou_sec_0', good)).toBe(200);
    expect(await api('/v1/badges/ou_sec_0/history?limit=5', `bearer ${auditTokens[1]}`)).toBe(200);
    expect(await api('/v1/stats', good)).toBe(200);
    expect(await api('/v1/badges/ou_sec_parked/resync', good, 'POST')).toBe(202);
    expect(await api('/v1/badges/ou_nobody', good)).toBe(404);
    expect(await api('/v1/badges/ou_sec_0/history?limit=0', good)).toBe(400);
    expect(await api('/v1/badges/ou_sec_0')).toBe(401);
    expect(await api('/v1/badges/ou_sec_0', `Bearer ${wrongAuditToken}`)).toBe(401);
    expect(await api('/v1/badges/ou_sec_0', `Basic ${Buffer.from(`ops:${auditTokens[0]}`).toString('base64')}`)).toBe(401);
    expect(await api('/v1/badges/ou_sec_0', `Token ${auditTokens[0]}`)).toBe(401);
    expect(await api('/v1/stats', `Bearer ${auditTokens[0]}x`)).toBe(401);

    // Tokens live 3 s and are refreshed ahead of expiry: keep pushing until the service has fetched several.
    const fetched = () => service.output().split('\n').filter((l) => l.includes('Feishu token fetched')).length;
    const refreshDeadline = Date.now() + 30_000;
    while (fetched() < 3) {
      if (Date.now() > refreshDeadline) throw new Error(`no token refresh seen (fetches: ${fetched()})`);
      await wave();
    }

    // Feishu calls the token invalid (99991663): dropped, refetched, the push retried.
    await tokensCaughtUp();
    await emu('/_emulator/tokens/expire', {});
    await wave();
    await waitFor('a refused token was refetched', async () => (await scrape(service.url)).sum('badge_token_refreshes_total') >= 1, 10_000);

    // Feishu failing: 5xx on app_badge/set, then an outage of every endpoint (token fetch included) with the token gone.
    await emu('/_emulator/faults', { http5xxRate: 0.5 });
    await wave();
    await emu('/_emulator/faults', { http5xxRate: 0 });
    await tokensCaughtUp();
    await emu('/_emulator/tokens/expire', {});
    await emu('/_emulator/faults', { outage: { seconds: 2 } });
    await wave();

    // A database driver error: the statement that stores the source fails (not as refused data, which would be
    // dead-lettered, but as an error ingest retries and logs), its bound parameters holding the source name.
    await db.ds.query(`CREATE FUNCTION leak_probe() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.source LIKE 'leak-%' THEN RAISE EXCEPTION 'leak probe' USING ERRCODE = '55000'; END IF; RETURN NEW; END $$`);
    await db.ds.query(`CREATE TRIGGER leak_probe BEFORE INSERT ON badge_source FOR EACH ROW EXECUTE FUNCTION leak_probe()`);
    await produce(topic, [{ key: 'ou_sec_0', value: wire(event('ou_sec_0', refusedSource, 1, counts(1))) }]);
    await waitFor('the refused ingest batch logged', async () => service.output().includes('ingest batch failed; retrying'), 20_000, 100);

    // A replica configured with the wrong app secret: Feishu refuses its token requests (10014).
    await service.stop();
    const misconfigured = await startWatchedService({
      databaseUrl,
      topic,
      groupId: uniqueName('secrets-wrong'),
      emulatorUrl: emulator.url,
      appSecret: wrongAppSecret,
      auditTokens,
      env: { LOG_LEVEL: 'debug', BADGE_ROLES: 'reconcile,api' },
      readyPath: '/health/live',
      track: services,
    });
    const misApi = async (path: string, method = 'GET') => {
      const r = await fetch(`${misconfigured.url}${path}`, { method, headers: { authorization: good } });
      const text = await r.text();
      responses.push(`${r.status} ${JSON.stringify([...r.headers])} ${text}`);
      return JSON.parse(text);
    };
    await misApi('/v1/badges/ou_sec_1/resync', 'POST');
    await waitFor('the refused token request recorded as the last error', async () => (await misApi('/v1/badges/ou_sec_1')).lastError?.code === 10014, 20_000, 200);
    const readiness = await fetch(`${misconfigured.url}/health/ready`);
    responses.push(`${readiness.status} ${await readiness.text()}`);
    expect(readiness.status).toBe(503);
    await misconfigured.stop();

    // An ingest replica with SASL credentials, read from a file, against the plaintext broker, which refuses SASL: it
    // keeps retrying in the background (not a failure that stops start-up), logging each attempt at debug level.
    secretDir = mkdtempSync(path.join(tmpdir(), 'secrets-e2e-'));
    const passwordFile = path.join(secretDir, 'kafka-password');
    writeFileSync(passwordFile, `${kafkaPassword}\n`);
    const saslReplica = await startWatchedService({
      databaseUrl: db.url,
      topic,
      groupId: uniqueName('secrets-sasl'),
      emulatorUrl: emulator.url,
      appSecret,
      auditTokens,
      env: { LOG_LEVEL: 'debug', BADGE_ROLES: 'ingest,api', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'badge-svc', KAFKA_SASL_PASSWORD_FILE: passwordFile },
      readyPath: '/health/live',
      track: services,
    });
    await waitFor('the SASL replica to fail a Kafka connection attempt', () => saslReplica.output().includes('ingest could not start; retrying'), 45_000, 100);
    await saslReplica.stop();

    // Every token the emulator issued is known: the ones seen equal the ones it counts.
    await tokensCaughtUp();
    capturing = false;
    await capturer;
    const stats = await emu('/_emulator/stats');
    expect(issuedTokens.size).toBe(stats.tokens.tenantTokensIssued);
    expect(issuedTokens.size).toBeGreaterThanOrEqual(4);
    expect(stats.codes['app_badge/set']['99991663']).toBeGreaterThanOrEqual(1);
    const statuses: Record<string, number> = stats.statuses['app_badge/set'];
    expect((statuses['500'] ?? 0) + (statuses['502'] ?? 0) + (statuses['503'] ?? 0)).toBeGreaterThanOrEqual(1);
    await emulator.stop();

    const outputs: [string, string][] = [
      ['service', service.output()],
      ['misconfigured service', misconfigured.output()],
      ['SASL replica', saslReplica.output()],
      ['emulator', emulator.output()],
      ['audit API responses', responses.join('\n')],
    ];
    // The scan covers the lines where a leak would be: debug token chatter, refusals, failed pushes, HTTP errors.
    expect(service.output().split('\n').filter((l) => l.includes('ingest batch failed; retrying') && l.includes('"code":"55000"')).length).toBeGreaterThan(0);
    for (const needle of ['Feishu token fetched', 'Feishu refused the tenant token', 'push not applied', 'message dead-lettered', '"level":20']) {
      expect({ needle, found: service.output().includes(needle) }).toEqual({ needle, found: true });
    }
    expect(emulator.output()).toContain('"path":"/open-apis/auth/v3/tenant_access_token/internal"');

    const forbidden: [string, string][] = [
      ['FEISHU_APP_SECRET', appSecret],
      ['the wrong FEISHU_APP_SECRET', wrongAppSecret],
      ['audit token 1', auditTokens[0]],
      ['audit token 2', auditTokens[1]],
      ['a rejected audit token', wrongAuditToken],
      ['KAFKA_SASL_PASSWORD', kafkaPassword],
      ['the DATABASE_URL password', databasePassword],
      ['a parameter of the refused statement', refusedSource],
      ...[...issuedTokens].map((t, i): [string, string] => [`tenant token #${i + 1}`, t]),
    ];
    const leaks: string[] = [];
    for (const [where, text] of outputs) {
      for (const line of text.split('\n')) {
        for (const [what, value] of forbidden) if (line.includes(value)) leaks.push(`${what} in ${where}: ${line.split(value).join(`<${what}>`).slice(0, 500)}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('names a DATABASE_URL it cannot parse without echoing it, and exits 78', async () => {
    const p = runNode(SERVICE_MAIN, { DATABASE_URL: `postgres://postgres:${databasePassword}@127.0.0.1:99999/badges`, BADGE_ROLES: 'ingest' });
    expect(await p.exited).toBe(78);
    expect(p.output()).toContain('DATABASE_URL: not a valid URL');
    expect(p.output()).not.toContain(databasePassword);
  });
});

/**
 * A store app: the app_ticket arrives at the signed event callback (on its own port), is traded for an
 * app_access_token and that for a tenant token per tenant; forged and replayed callbacks are refused. No line
 * either process wrote may contain the app_ticket, the app_access_token, a tenant token, the encrypt key, the
 * verification token or the app secret.
 */
describe('store-app secrets never reach the logs', () => {
  const STORE_APP_ID = 'cli_store_secrets';
  const storeSecret = secret('store-secret');
  const encryptKey = secret('encrypt-key');
  const verificationToken = secret('verification');
  const auditToken = secret('audit-token');
  const TENANTS = ['tenant_s1', 'tenant_s2'];
  let db: TestDatabase;
  let topic: string;
  const processes: WatchedProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('storesecrets');
    topic = uniqueName('storesecrets');
    await createTopic(topic, 2);
  });
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await deleteTopics(topic, `${topic}.dlq`);
    await db?.drop();
  });

  it('keeps the app_ticket, the app_access_token, tenant tokens, the encrypt key and the verification token out of every line', async () => {
    const callbackPort = await freePort();
    const emulator = await startWatchedEmulator('unused-custom-secret-0000', {
      EMULATOR_STORE_APP_ID: STORE_APP_ID,
      EMULATOR_STORE_APP_SECRET: storeSecret,
      EMULATOR_VERIFICATION_TOKEN: verificationToken,
      EMULATOR_ENCRYPT_KEY: encryptKey,
      EMULATOR_EVENT_CALLBACK_URL: `http://127.0.0.1:${callbackPort}/feishu/events`,
      EMULATOR_STORE_TENANT_KEYS: TENANTS.join(','),
      EMULATOR_LOG_REQUESTS: 'true',
    });
    processes.push(emulator);
    const service = await startWatchedService({
      databaseUrl: db.url,
      topic,
      groupId: uniqueName('storesecrets'),
      emulatorUrl: emulator.url,
      appSecret: storeSecret,
      auditTokens: [auditToken],
      env: {
        LOG_LEVEL: 'debug',
        FEISHU_APP_TYPE: 'store',
        FEISHU_APP_ID: STORE_APP_ID,
        FEISHU_VERIFICATION_TOKEN: verificationToken,
        FEISHU_ENCRYPT_KEY: encryptKey,
        FEISHU_CALLBACK_PORT: String(callbackPort),
        NODE_ENV: 'production',
      },
      track: processes,
    });
    const emu = async (path: string, body?: unknown) =>
      (await (
        await fetch(`${emulator.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
      ).json()) as any;

    const users = TENANTS.flatMap((t) => [0, 1, 2].map((i) => ({ tenant: t, user: `ou_ss_${t}_${i}` })));
    await produce(topic, users.map((u, i) => ({ key: u.user, value: wire(event(u.user, 'approval', 1, counts(i + 1), { tenantKey: u.tenant })) })));
    await waitFor(
      'every tenant badge at the emulator',
      async () => {
        for (const [i, u] of users.entries()) if ((await emu(`/_emulator/badges/${u.user}?tenantKey=${u.tenant}`))?.pc?.web_app !== i + 1) return false;
        return true;
      },
      30_000,
      200,
    );

    // The tokens the service was issued: the emulator hands out the same ones while they are fresh.
    const ticket = (await emu('/_emulator/app-ticket')).appTicket as string;
    const appToken = (await emu('/open-apis/auth/v3/app_access_token', { app_id: STORE_APP_ID, app_secret: storeSecret, app_ticket: ticket })).app_access_token as string;
    const tenantTokens = await Promise.all(TENANTS.map(async (tenant_key) => (await emu('/open-apis/auth/v3/tenant_access_token', { app_access_token: appToken, tenant_key })).tenant_access_token as string));
    expect([ticket, appToken, ...tenantTokens].every((t) => typeof t === 'string' && t.length > 8)).toBe(true);

    // Forged, unsigned and stale callbacks, refused (and logged).
    const callback = `http://127.0.0.1:${callbackPort}/feishu/events`;
    const forged = JSON.stringify({ encrypt: Buffer.from(`${ticket}${verificationToken}`).toString('base64') });
    for (const headers of [
      { 'x-lark-request-timestamp': String(Math.floor(Date.now() / 1000)), 'x-lark-request-nonce': 'n', 'x-lark-signature': 'f'.repeat(64) },
      {},
      { 'x-lark-request-timestamp': '1000000000', 'x-lark-request-nonce': 'n', 'x-lark-signature': 'a'.repeat(64) },
    ]) {
      const r = await fetch(callback, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: forged });
      expect(r.status).toBe(403);
    }
    const stats = (await (await fetch(`${service.url}/v1/stats`, { headers: { authorization: `Bearer ${auditToken}` } })).json()) as any;
    expect(stats.appTicket).toEqual({ received: true, receivedAt: expect.any(String) });
    await service.stop();
    await emulator.stop();

    expect(service.output()).toContain('app_ticket received');
    expect(service.output()).toContain('event callback refused');
    const forbidden: [string, string][] = [
      ['the app_ticket', ticket],
      ['the app_access_token', appToken],
      ...tenantTokens.map((t, i): [string, string] => [`tenant token of ${TENANTS[i]}`, t]),
      ['FEISHU_ENCRYPT_KEY', encryptKey],
      ['FEISHU_VERIFICATION_TOKEN', verificationToken],
      ['FEISHU_APP_SECRET', storeSecret],
      ['the audit token', auditToken],
    ];
    const leaks: string[] = [];
    for (const [where, text] of [['service', service.output()], ['emulator', emulator.output()]] as const) {
      for (const line of text.split('\n')) for (const [what, value] of forbidden) if (line.includes(value)) leaks.push(`${what} in ${where}: ${line.split(value).join(`<${what}>`).slice(0, 500)}`);
    }
    expect(leaks).toEqual([]);
  });
});
