import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { createHash } from 'node:crypto';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';
import { AuditApp, startAuditApp } from './audit-app';

jest.setTimeout(60_000);

const RO = 'read-only-token-0123456789abcdef';
const ONCALL = 'oncall-token-0123456789abcdef';
const TENANT_A = 'tenant-a-token-0123456789abcdef';

/** Scoped tokens from AUDIT_API_TOKENS_FILE, on the real app and Postgres. */
describe('audit API with scoped tokens', () => {
  let db: TestDatabase;
  let api: AuditApp;
  let dir: string;
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  const as = (token: string) => `Bearer ${token}`;

  beforeAll(async () => {
    db = await createTestDatabase('auditscopes');
    dir = mkdtempSync(path.join(tmpdir(), 'audit-tokens-'));
    const file = path.join(dir, 'tokens.yaml');
    writeFileSync(
      file,
      `- { name: viewer, token: ${RO}, scopes: [read], tenants: ["*"] }
- { name: ops-oncall, token: ${ONCALL}, scopes: [read, resync], tenants: ["*"] }
# the file need not hold the secret: its sha256 will do
- name: tenant-a-support
  sha256: ${createHash('sha256').update(TENANT_A).digest('hex')}
  scopes: [read, resync]
  tenants: [tenant_a]
`,
    );
    const ingest = new IngestRepository(db.ds);
    const { newest, superseded } = newestPerSource([
      event('ou_a1', 'approval', 1, counts(1), { tenantKey: 'tenant_a' }),
      event('ou_a2', 'approval', 1, counts(2), { tenantKey: 'tenant_a' }),
      event('ou_b1', 'approval', 1, counts(3), { tenantKey: 'tenant_b' }),
      event('ou_b2', 'approval', 1, counts(4), { tenantKey: 'tenant_b' }),
      event('ou_b3', 'approval', 1, counts(5), { tenantKey: 'tenant_b' }),
    ]);
    await ingest.applyBatch(newest, superseded);
    api = await startAuditApp(db, { AUDIT_API_TOKENS: '', AUDIT_API_TOKENS_FILE: file });
    await waitFor('audit partitions created at start', async () => (await q(`SELECT to_regclass('badge_audit_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')) AS t`))[0].t);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const resyncRows = async (userId: string) => (await q(`SELECT count(*)::int AS n FROM badge_audit WHERE kind = 'resync' AND user_id = $1`, [userId]))[0].n;

  it('refuses a resync with a token that has only the read scope (403), and records nothing', async () => {
    expect((await api.call('/v1/badges/ou_b1?tenantKey=tenant_b', { auth: as(RO) })).status).toBe(200);
    const r = await api.call('/v1/badges/ou_b1/resync?tenantKey=tenant_b', { method: 'POST', auth: as(RO) });
    expect({ status: r.status, message: r.body.message }).toEqual({ status: 403, message: 'this token lacks the resync scope' });
    expect(await resyncRows('ou_b1')).toBe(0);
    expect(JSON.stringify(r.body)).not.toContain(RO);
  });

  it("records the token's name as the actor of a resync in the user's history", async () => {
    const r = await api.call('/v1/badges/ou_b2/resync?tenantKey=tenant_b', { method: 'POST', auth: as(ONCALL) });
    expect(r.status).toBe(202);
    const history = await api.call('/v1/badges/ou_b2/history?tenantKey=tenant_b&limit=1', { auth: as(RO) });
    expect(history.body.items[0]).toEqual({ at: expect.any(String), kind: 'resync', detail: 'resync by ops-oncall (was pending)' });
  });

  it("hides every other tenant from a tenant-restricted token: 404 for their users, lists and stats of its tenant only", async () => {
    const a = as(TENANT_A);
    expect((await api.call('/v1/badges/ou_a1?tenantKey=tenant_a', { auth: a })).status).toBe(200);
    const unknown = await api.call('/v1/badges/ou_nobody?tenantKey=tenant_a', { auth: a });
    for (const p of ['/v1/badges/ou_b1?tenantKey=tenant_b', '/v1/badges/ou_b1/history?tenantKey=tenant_b', '/v1/badges/ou_b1/sources?tenantKey=tenant_b', '/v1/badges/ou_a1']) {
      const r = await api.call(p, { auth: a });
      expect({ p, status: r.status, message: r.body.message }).toEqual({ p, status: 404, message: unknown.body.message });
    }
    const resync = await api.call('/v1/badges/ou_b1/resync?tenantKey=tenant_b', { method: 'POST', auth: a });
    expect(resync.status).toBe(404);
    expect(await resyncRows('ou_b1')).toBe(0);
    expect((await api.call('/v1/badges/ou_a2/resync?tenantKey=tenant_a', { method: 'POST', auth: a })).status).toBe(202);

    const listed = await api.call('/v1/badges?status=pending&limit=200', { auth: a });
    expect(listed.body.items.map((i: { userId: string; tenantKey: string }) => `${i.tenantKey}/${i.userId}`).sort()).toEqual(['tenant_a/ou_a1', 'tenant_a/ou_a2']);
    const firstPage = await api.call('/v1/badges?status=pending&limit=1', { auth: a });
    const secondPage = await api.call(`/v1/badges?status=pending&limit=1&cursor=${firstPage.body.nextCursor}`, { auth: a });
    expect([...firstPage.body.items, ...secondPage.body.items].map((i: { userId: string }) => i.userId)).toEqual(['ou_a1', 'ou_a2']);
    expect(secondPage.body.nextCursor).toBeNull();

    const everyone = await api.call('/v1/badges?status=pending&limit=200', { auth: as(RO) });
    expect(everyone.body.items).toHaveLength(5);

    const stats = await api.call('/v1/stats', { auth: a });
    expect({ total: stats.body.users.total, dirty: stats.body.dirty }).toEqual({ total: 2, dirty: 2 });
    expect((await api.call('/v1/stats', { auth: as(RO) })).body.users.total).toBe(5);
  });
});

describe('audit API rate limit per token', () => {
  let db: TestDatabase;
  let api: AuditApp;
  beforeAll(async () => {
    db = await createTestDatabase('auditthrottle');
    api = await startAuditApp(db, { AUDIT_API_RATE_LIMIT: '3' });
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('answers 429 with Retry-After once a token is over its rate, leaving other tokens their own budget', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await api.call('/v1/stats')).status);
    const over = await api.call('/v1/badges/anyone');
    expect([...statuses, over.status]).toEqual([200, 200, 200, 429]);
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(over.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect((await api.call('/v1/stats', { auth: 'Bearer another-token-that-is-long-enough' })).status).toBe(200);
    // Health and metrics are outside /v1 and never throttled.
    expect((await fetch(`${api.base}/health/live`)).status).toBe(200);
  });
});
