import { createTestDatabase, TestDatabase } from '../support/database';
import { uniqueName } from '../support/kafka';
import { WatchedProcess } from '../support/service';
import { startWatchedService } from './observability-stack';

jest.setTimeout(60_000);

const AUDIT_TOKEN = 'http-hardening-audit-token-0123';

/** The built service (its real main.ts), api role only: headers, /docs switch, keep-alive, SIGTERM. */
describe('HTTP hardening of the real app', () => {
  let db: TestDatabase;
  const services: WatchedProcess[] = [];
  const start = (env: Record<string, string> = {}) =>
    startWatchedService({
      databaseUrl: db.url,
      topic: uniqueName('http'),
      groupId: uniqueName('http'),
      emulatorUrl: 'http://127.0.0.1:9',
      appSecret: 'unused-app-secret',
      auditTokens: [AUDIT_TOKEN],
      env: { BADGE_ROLES: 'api', ...env },
      track: services,
    });

  beforeAll(async () => {
    db = await createTestDatabase('http');
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db?.drop();
  });

  it('sends security headers and no X-Powered-By on the API, health and docs; audit answers no-store without ETag; keep-alive is 65 s; /docs is served', async () => {
    const service = await start();
    for (const path of ['/health/live', '/v1/stats', '/v1/badges/ou_nobody', '/docs']) {
      const r = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${AUDIT_TOKEN}` } });
      const h = Object.fromEntries(r.headers);
      expect({ path, poweredBy: h['x-powered-by'] ?? null }).toEqual({ path, poweredBy: null });
      expect({ path, h }).toMatchObject({
        path,
        h: {
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'SAMEORIGIN',
          'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
          'content-security-policy': expect.stringContaining("default-src 'self'"),
          'referrer-policy': 'no-referrer',
          'cross-origin-opener-policy': 'same-origin',
        },
      });
    }
    // Audit answers are per-user data behind a token: never stored by a cache, so no ETag is computed for them.
    for (const path of ['/v1/stats', '/v1/badges/ou_nobody', '/v1/badges?status=pending']) {
      for (const authorization of [`Bearer ${AUDIT_TOKEN}`, 'Bearer wrong-token']) {
        const r = await fetch(`${service.url}${path}`, { headers: { authorization } });
        expect({ path, status: r.status, cacheControl: r.headers.get('cache-control'), etag: r.headers.get('etag') }).toEqual({
          path,
          status: authorization.includes('wrong') ? 401 : r.status,
          cacheControl: 'no-store',
          etag: null,
        });
      }
    }
    const live = await fetch(`${service.url}/health/live`);
    expect(live.headers.get('keep-alive')).toBe('timeout=65');
    expect((await fetch(`${service.url}/docs`)).status).toBe(200);
    expect((await fetch(`${service.url}/docs-json`)).status).toBe(200);
  });

  it('AUDIT_API_DOCS=false: /docs and /docs-json answer 404; a configured keep-alive is used', async () => {
    const service = await start({ AUDIT_API_DOCS: 'false', HTTP_KEEP_ALIVE_TIMEOUT_MS: '75000', HTTP_HEADERS_TIMEOUT_MS: '76000' });
    expect((await fetch(`${service.url}/docs`)).status).toBe(404);
    expect((await fetch(`${service.url}/docs-json`)).status).toBe(404);
    expect((await fetch(`${service.url}/health/live`)).headers.get('keep-alive')).toBe('timeout=75');
  });

  it('SIGTERM: reports the drain and exits 0 well within SHUTDOWN_GRACE_MS', async () => {
    const service = await start({ SHUTDOWN_GRACE_MS: '10000', LOG_LEVEL: 'info' });
    const t0 = Date.now();
    const code = await service.stop();
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(service.output()).toContain('"shutting down","signal":"SIGTERM"');
  });
});
