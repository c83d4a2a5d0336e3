import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';
import { AuditApp, startAuditApp } from './audit-app';

jest.setTimeout(120_000);

const USERS = 2_500;
const PAGE = 100;

/**
 * Lists users by status page by page while other users are inserted and some listed users flip status between
 * every two pages. Keyset pagination must return no user twice and every user that kept the status throughout.
 */
describe('GET /v1/badges?status= under concurrent writes', () => {
  let db: TestDatabase;
  let api: AuditApp;

  beforeAll(async () => {
    db = await createTestDatabase('auditpage');
    api = await startAuditApp(db);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  it('walks 2,500 pending users with no duplicate and none of the steady ones skipped', async () => {
    // Keys spread over two tenants and two id types, so pages cross every part of the composite key.
    await db.ds.query(
      `INSERT INTO badge_state (tenant_key, user_id_type, user_id, status)
       SELECT CASE WHEN i % 3 = 0 THEN 't1' ELSE '' END, CASE WHEN i % 2 = 0 THEN 'open_id' ELSE 'union_id' END,
              'ou_' || md5(i::text), 'pending'
       FROM generate_series(1, $1) i`,
      [USERS],
    );
    const original: { k: string }[] = await db.ds.query(
      `SELECT tenant_key || '|' || user_id_type || '|' || user_id AS k FROM badge_state WHERE status = 'pending'`,
    );
    const flipped = new Set<string>();
    let rounds = 0;
    let inserted = 0;
    let walking = true;

    const writer = (async () => {
      let n = 0;
      while (walking) {
        // Users recorded as touched before their status moves: whatever the walk sees of them is allowed.
        const victims = Array.from({ length: 10 }, () => original[Math.floor(Math.random() * original.length)].k);
        victims.forEach((v) => flipped.add(v));
        const [tenants, types, ids] = [0, 1, 2].map((p) => victims.map((v) => v.split('|')[p]));
        await db.ds.query(
          `UPDATE badge_state b SET status = CASE WHEN b.status = 'pending' THEN 'in_sync' ELSE 'pending' END, updated_at = now()
           FROM unnest($1::text[], $2::text[], $3::text[]) AS v(t, k, u)
           WHERE (b.tenant_key, b.user_id_type, b.user_id) = (v.t, v.k, v.u)`,
          [tenants, types, ids],
        );
        const fresh = Array.from({ length: 20 }, () => `ou_new_${n++}_${Math.random().toString(36).slice(2, 8)}`);
        await db.ds.query(
          `INSERT INTO badge_state (tenant_key, user_id_type, user_id, status)
           SELECT CASE WHEN random() < 0.3 THEN 't1' ELSE '' END, 'open_id', u, 'pending' FROM unnest($1::text[]) u`,
          [fresh],
        );
        inserted += fresh.length;
        rounds++;
      }
    })();

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    try {
      do {
        const before = rounds;
        const r: { status: number; body: any } = await api.call(`/v1/badges?status=pending&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        for (const item of r.body.items) {
          expect(item.status).toBe('pending');
          seen.push(`${item.tenantKey}|${item.userIdType}|${item.userId}`);
        }
        cursor = r.body.nextCursor;
        pages++;
        // Let at least one round of writes land between every two pages.
        await waitFor('a round of concurrent writes', () => rounds > before, 10_000, 5);
      } while (cursor !== null);
    } finally {
      walking = false;
      await writer;
    }

    expect(pages).toBeGreaterThan(USERS / PAGE);
    expect(inserted).toBeGreaterThan(0);
    expect(new Set(seen).size).toBe(seen.length);
    const seenSet = new Set(seen);
    const steady = original.map((o) => o.k).filter((k) => !flipped.has(k));
    expect(steady.length).toBeGreaterThan(USERS / 2);
    expect(steady.filter((k) => !seenSet.has(k))).toEqual([]);
  });
});
