import { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/kafka';
import { emulatorJson, startEmulator, startService } from '../support/stack';

jest.setTimeout(120_000);

const OPS = 'ops-token-0123456789abcdef';
const VIEWER = 'viewer-token-0123456789abcdef';

/** DELETE /v1/sources/{source}: a decommissioned upstream leaves every badge, and Feishu shows the rest. */
describe('retiring a source, on the real Postgres and the emulator', () => {
  let db: TestDatabase;
  let emulator: EmulatorHandle;
  let app: INestApplication;
  let dir: string;
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  const call = async (method: string, url: string, token: string) => {
    const r = await fetch(`${await app.getUrl()}${url}`, { method, headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as any };
  };
  const unsynced = async () => (await q(`SELECT count(*)::int n FROM badge_state WHERE status <> 'in_sync' OR desired_revision > pushed_revision`))[0].n;

  beforeAll(async () => {
    db = await createTestDatabase('retire');
    emulator = await startEmulator();
    dir = mkdtempSync(path.join(tmpdir(), 'retire-tokens-'));
    const file = path.join(dir, 'tokens.yaml');
    writeFileSync(file, `- { name: ops, token: ${OPS}, scopes: [read, resync], tenants: ["*"] }\n- { name: viewer, token: ${VIEWER}, scopes: [read], tenants: ["*"] }\n`);
    const events: BadgeEvent[] = [];
    for (let i = 0; i < 30; i++) events.push(event(`ou_both${i}`, 'approval', 1, counts(i % 4, 1)), event(`ou_both${i}`, 'legacy', 7, counts(5, 0, 2)));
    for (let i = 0; i < 5; i++) events.push(event(`ou_one${i}`, 'approval', 1, counts(3)));
    const { newest, superseded } = newestPerSource(events);
    await new IngestRepository(db.ds).applyBatch(newest, superseded);
    app = await startService(db.url, emulator.url, { BADGE_ROLES: 'reconcile,api', AUDIT_API_TOKENS: '', AUDIT_API_TOKENS_FILE: file });
    await waitFor('every user in sync', async () => (await unsynced()) === 0, 60_000, 100);
  });
  afterAll(async () => {
    await app?.close();
    await emulator?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a token without the resync scope, and a malformed source, saying why', async () => {
    const ro = await call('DELETE', '/v1/sources/legacy', VIEWER);
    expect(ro.status).toBe(403);
    const bad = await call('DELETE', '/v1/sources/Legacy!', OPS);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('source must match');
    expect((await q(`SELECT count(*)::int n FROM badge_source WHERE source = 'legacy'`))[0].n).toBe(30);
  });

  it("removes the source's share from every user, pushes them, and each user's history says who retired it", async () => {
    const r = await call('DELETE', '/v1/sources/legacy', OPS);
    expect(r).toEqual({ status: 200, body: { source: 'legacy', tenantKey: null, users: 30, usersChanged: 30, retiredBy: 'ops' } });
    expect((await q(`SELECT count(*)::int n FROM badge_source WHERE source = 'legacy'`))[0].n).toBe(0);
    await waitFor('every user in sync again', async () => (await unsynced()) === 0, 60_000, 100);
    for (let i = 0; i < 30; i++) {
      const b = await emulatorJson(emulator, `/_emulator/badges/ou_both${i}`);
      expect([i, b.pc?.web_app, b.pc?.gadget, b.mobile?.web_app]).toEqual([i, i % 4, 1, 0]);
    }
    const history = await call('GET', '/v1/badges/ou_both3/history', VIEWER);
    const retired = history.body.items.find((e: any) => e.kind === 'change' && e.source === 'legacy');
    expect(retired.detail).toBe('source legacy retired by ops');
    expect(retired.new).toEqual({ pc: { web_app: 0, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } });
    // Users without the source were not touched.
    expect((await q(`SELECT count(*)::int n FROM badge_audit WHERE user_id LIKE 'ou_one%' AND source = 'legacy'`))[0].n).toBe(0);
  });

  it('is idempotent: retiring it again finds nobody', async () => {
    const r = await call('DELETE', '/v1/sources/legacy', OPS);
    expect(r.body).toMatchObject({ users: 0, usersChanged: 0 });
  });
});
