import { Test } from '@nestjs/testing';
import { SwaggerModule, DocumentBuilder } from '@nestjs/swagger';
import { loadConfig } from '@badges/config';
import { newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { Client, Notification } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';
import { AppModule } from '../../apps/badge-service/src/app.module';
import { AuditStatsService } from '../../apps/badge-service/src/audit/audit-stats.service';
import { CONSUMER_LAG } from '../../apps/badge-service/src/audit/consumer-lag';
import { ConsumerLagMonitor } from '../../apps/badge-service/src/kafka/consumer-lag.monitor';
import { AuditApp, startAuditApp, TOKEN } from './audit-app';

jest.setTimeout(60_000);

describe('audit API over HTTP on the real Postgres', () => {
  let db: TestDatabase;
  let api: AuditApp;
  let ingest: IngestRepository;

  const apply = (events: ReturnType<typeof event>[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);

  beforeAll(async () => {
    db = await createTestDatabase('auditapi');
    ingest = new IngestRepository(db.ds);
    api = await startAuditApp(db);
    await waitFor('audit partitions created at start', async () => (await q(`SELECT to_regclass('badge_audit_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')) AS t`))[0].t);
  });
  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  describe('GET /v1/badges/:userId', () => {
    beforeAll(async () => {
      await apply([event('alice', 'approval', 10, counts(1, 2, 1, 2)), event('alice', 'task', 5, counts(3, 0, 0, 1))]);
      await apply([event('alice', 'approval', 9, counts(9, 9, 9, 9))]); // stale
      await q(`
        UPDATE badge_state SET applied_pc_web_app = 4, applied_pc_gadget = 2, applied_mobile_web_app = 1,
          applied_mobile_gadget = NULL, last_version = 1764000000123, last_pushed_at = '2026-11-24T08:00:01.5Z',
          status = 'backing_off', attempts = 2, next_attempt_at = '2026-11-24T08:05:00Z',
          last_error_code = 213004, last_error_message = 'concurrent update', last_error_log_id = 'log-1',
          last_error_at = '2026-11-24T08:00:02Z'
        WHERE user_id = 'alice'`);
      await apply([event('bob', 'approval', 1, counts(2, 0, 0, 0))]);
      await q(`
        UPDATE badge_state SET applied_pc_web_app = 2, applied_pc_gadget = 0, applied_mobile_web_app = 0,
          applied_mobile_gadget = 0, pushed_revision = desired_revision, status = 'in_sync', last_version = 7
        WHERE user_id = 'bob'`);
    });

    it('answers desired, applied (null per unknown side), sources, reconciler state and last error', async () => {
      const r = await api.call('/v1/badges/alice');
      expect(r.status).toBe(200);
      const [state] = await q(`SELECT desired_changed_at, desired_revision FROM badge_state WHERE user_id = 'alice'`);
      expect(r.body).toEqual({
        userId: 'alice',
        userIdType: 'open_id',
        tenantKey: '',
        desired: { pc: { web_app: 4, gadget: 2 }, mobile: { web_app: 1, gadget: 3 } },
        applied: { pc: { web_app: 4, gadget: 2 }, mobile: null },
        inSync: false,
        appliedEqualsDesired: false,
        status: 'backing_off',
        nextAttemptAt: '2026-11-24T08:05:00.000Z',
        attempts: 2,
        desiredRevision: Number(state.desired_revision),
        pushedRevision: 0,
        lastVersion: '1764000000123',
        lastPushedAt: '2026-11-24T08:00:01.500Z',
        desiredChangedAt: state.desired_changed_at.toISOString(),
        sources: [
          {
            source: 'approval',
            counts: { pc: { web_app: 1, gadget: 2 }, mobile: { web_app: 1, gadget: 2 } },
            sequence: 10,
            eventId: 'alice:approval:10',
            occurredAt: '2026-11-24T08:00:00.000Z',
            updatedAt: expect.any(String),
          },
          {
            source: 'task',
            counts: { pc: { web_app: 3, gadget: 0 }, mobile: { web_app: 0, gadget: 1 } },
            sequence: 5,
            eventId: 'alice:task:5',
            occurredAt: '2026-11-24T08:00:00.000Z',
            updatedAt: expect.any(String),
          },
        ],
        sourcesNextCursor: null,
        lastError: { code: 213004, message: 'concurrent update', logId: 'log-1', at: '2026-11-24T08:00:02.000Z' },
      });
      expect(r.headers.get('x-request-id')).toBeTruthy();
    });

    it('says in sync when every desired revision was pushed and applied', async () => {
      const r = await api.call('/v1/badges/bob');
      expect(r.body).toMatchObject({
        inSync: true,
        appliedEqualsDesired: true,
        status: 'in_sync',
        applied: { pc: { web_app: 2, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } },
        lastVersion: '7',
        lastPushedAt: null,
        lastError: null,
      });
    });

    it('keeps users apart by tenantKey and userIdType', async () => {
      await apply([event('carol', 'a', 1, counts(5), { tenantKey: 't1', userIdType: 'union_id' })]);
      expect((await api.call('/v1/badges/carol?tenantKey=t1&userIdType=union_id')).body).toMatchObject({
        userId: 'carol',
        tenantKey: 't1',
        userIdType: 'union_id',
        desired: { pc: { web_app: 5, gadget: 0 } },
      });
      expect((await api.call('/v1/badges/carol?tenantKey=t1')).status).toBe(404);
      expect((await api.call('/v1/badges/carol?userIdType=union_id')).status).toBe(404);
    });

    it('answers 404 with a JSON reason and a correlation id for an unknown user', async () => {
      const r = await api.call('/v1/badges/nobody');
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ statusCode: 404, error: 'Not Found', message: expect.stringContaining('unknown user'), correlationId: expect.any(String) });
      expect(r.headers.get('x-request-id')).toBe(r.body.correlationId);
    });
  });

  describe('GET /v1/badges/:userId/history', () => {
    beforeAll(async () => {
      await q(`INSERT INTO badge_state (tenant_key, user_id_type, user_id) VALUES ('', 'open_id', 'hist'), ('', 'open_id', 'quiet')`);
      // 30 entries, three per timestamp (ties broken by id), microseconds apart, about 20 hours ago.
      await q(`
        INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, source, sequence, event_id, new_counts,
                                 version, outcome, code, http_status, latency_ms, log_id, detail)
        SELECT date_trunc('second', now() - interval '20 hours') + (i / 3) * interval '7 microseconds',
               '', 'open_id', 'hist', k.kind,
               CASE WHEN k.kind IN ('change', 'stale') THEN 'approval' END,
               CASE WHEN k.kind IN ('change', 'stale') THEN i END,
               CASE WHEN k.kind IN ('change', 'stale') THEN 'ev-' || i END,
               CASE WHEN k.kind IN ('change', 'push') THEN '{"pc":{"web_app":1,"gadget":0}}'::jsonb END,
               CASE WHEN k.kind = 'push' THEN 1764000000000 + i END,
               CASE WHEN k.kind = 'push' THEN 'version_conflict' END,
               CASE WHEN k.kind = 'push' THEN 213001 END,
               CASE WHEN k.kind = 'push' THEN 400 END,
               CASE WHEN k.kind = 'push' THEN 12 END,
               CASE WHEN k.kind = 'push' THEN 'log-' || i END,
               CASE WHEN k.kind IN ('push', 'resync', 'rejected', 'stale') THEN 'entry ' || i END
        FROM generate_series(0, 29) i
        CROSS JOIN LATERAL (SELECT (ARRAY['change', 'stale', 'push', 'resync', 'rejected'])[1 + i % 5] AS kind) k`);
    });

    it('walks the whole timeline newest first with the cursor, ties in id order, no gaps or repeats', async () => {
      const expected: { at: string; label: string }[] = await q(
        `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, coalesce(detail, event_id) AS label
         FROM badge_audit WHERE user_id = 'hist' ORDER BY at DESC, id DESC`,
      );
      expect(expected).toHaveLength(30);
      expect(new Set(expected.map((e) => e.at)).size).toBe(10); // ties, to be broken by id
      const seen: any[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: any } = await api.call(`/v1/badges/hist/history?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(4);
        seen.push(...r.body.items);
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(8);
      expect(seen.map((i) => [i.at, i.detail ?? i.eventId])).toEqual(expected.map((e) => [e.at, e.label]));
      expect(new Set(seen.map((i) => i.detail ?? i.eventId)).size).toBe(30);
    });

    it('gives each kind of entry its fields and omits the empty ones', async () => {
      const { body } = await api.call('/v1/badges/hist/history?limit=200');
      const push = body.items.find((i: any) => i.kind === 'push');
      expect(Object.keys(push).sort()).toEqual(['at', 'code', 'detail', 'httpStatus', 'kind', 'latencyMs', 'logId', 'new', 'outcome', 'version']);
      expect(push).toMatchObject({ outcome: 'version_conflict', code: 213001, httpStatus: 400, latencyMs: 12, new: { pc: { web_app: 1, gadget: 0 } } });
      expect(typeof push.version).toBe('string');
      const resync = body.items.find((i: any) => i.kind === 'resync');
      expect(Object.keys(resync).sort()).toEqual(['at', 'detail', 'kind']);
      expect(body.nextCursor).toBeNull();
    });

    it('records accepted changes with old and new counts and stale events with the reason', async () => {
      const { body } = await api.call('/v1/badges/alice/history');
      expect(body.items.map((i: any) => [i.kind, i.source, i.sequence])).toEqual([
        ['stale', 'approval', 9],
        expect.arrayContaining(['change']),
        expect.arrayContaining(['change']),
      ]);
      expect(body.items[0]).toMatchObject({ detail: 'sequence 9 is not above the stored 10', eventId: 'alice:approval:9' });
      expect(body.items[1]).not.toHaveProperty('old');
      expect(body.items[1].new).toEqual(expect.objectContaining({ pc: expect.any(Object), mobile: expect.any(Object) }));
    });

    it('answers an empty page for a known user without history, 404 for an unknown one', async () => {
      expect((await api.call('/v1/badges/quiet/history')).body).toEqual({ items: [], nextCursor: null });
      expect((await api.call('/v1/badges/nobody/history')).status).toBe(404);
    });
  });

  describe('GET /v1/badges/:userId/sources', () => {
    const names = Array.from({ length: 250 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    beforeAll(async () => {
      // Stored directly: more than ingest's cap admits, as a user that grew before the cap had.
      await q(`INSERT INTO badge_state (tenant_key, user_id_type, user_id) VALUES ('', 'open_id', 'many'), ('', 'open_id', 'sourceless')`);
      await q(
        `INSERT INTO badge_source (tenant_key, user_id_type, user_id, source, sequence, event_id, pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at)
         SELECT '', 'open_id', 'many', s, 1, 'ev-' || s, 1, 0, 0, 0, '2026-11-24T08:00:00Z' FROM unnest($1::text[]) s`,
        [names],
      );
    });

    it('GET /v1/badges/:userId shows the first 100 sources in source order and a cursor to the rest', async () => {
      const { status, body } = await api.call('/v1/badges/many');
      expect(status).toBe(200);
      expect(body.sources.map((x: any) => x.source)).toEqual(names.slice(0, 100));
      expect(body.sourcesNextCursor).toEqual(expect.any(String));
      const next = await api.call(`/v1/badges/many/sources?limit=200&cursor=${body.sourcesNextCursor}`);
      expect(next.body.items.map((x: any) => x.source)).toEqual(names.slice(100, 250));
      expect(next.body.nextCursor).toBeNull();
    });

    it('walks every source with the cursor, no gaps or repeats, each with its counts', async () => {
      const seen: any[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: any } = await api.call(`/v1/badges/many/sources?limit=60${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(60);
        seen.push(...r.body.items);
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(5);
      expect(seen.map((x) => x.source)).toEqual(names);
      expect(seen[7]).toEqual({
        source: 's007',
        counts: { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 0, gadget: 0 } },
        sequence: 1,
        eventId: 'ev-s007',
        occurredAt: '2026-11-24T08:00:00.000Z',
        updatedAt: expect.any(String),
      });
    });

    it('answers an empty page for a known user without sources, 404 for an unknown one, 400 for a bad cursor or limit', async () => {
      expect((await api.call('/v1/badges/sourceless/sources')).body).toEqual({ items: [], nextCursor: null });
      expect((await api.call('/v1/badges/nobody/sources')).status).toBe(404);
      const history = (await api.call('/v1/badges/hist/history?limit=1')).body.nextCursor;
      for (const bad of [`cursor=${history}`, 'cursor=not-a-cursor', `cursor=${Buffer.from('["src","Bad!"]').toString('base64url')}`, 'limit=0', 'limit=201']) {
        const r = await api.call(`/v1/badges/many/sources?${bad}`);
        expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
      }
    });
  });

  describe('GET /v1/badges?status=', () => {
    it('lists users with a status in key order, with their state', async () => {
      const r = await api.call('/v1/badges?status=backing_off');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        items: [
          {
            userId: 'alice',
            userIdType: 'open_id',
            tenantKey: '',
            status: 'backing_off',
            desiredChangedAt: expect.any(String),
            nextAttemptAt: '2026-11-24T08:05:00.000Z',
            attempts: 2,
            lastError: { code: 213004, message: 'concurrent update', logId: 'log-1', at: '2026-11-24T08:00:02.000Z' },
          },
        ],
        nextCursor: null,
      });
    });

    it('pages with a cursor that only fits its own status', async () => {
      await q(`INSERT INTO badge_state (tenant_key, user_id_type, user_id, status)
               SELECT '', 'open_id', 'parked-' || lpad(i::text, 2, '0'), 'parked' FROM generate_series(1, 5) i`);
      const first = await api.call('/v1/badges?status=parked&limit=2');
      expect(first.body.items.map((i: any) => i.userId)).toEqual(['parked-01', 'parked-02']);
      const second = await api.call(`/v1/badges?status=parked&limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body.items.map((i: any) => i.userId)).toEqual(['parked-03', 'parked-04']);
      const third = await api.call(`/v1/badges?status=parked&limit=2&cursor=${second.body.nextCursor}`);
      expect(third.body).toMatchObject({ items: [{ userId: 'parked-05' }], nextCursor: null });
      const wrong = await api.call(`/v1/badges?status=pending&cursor=${first.body.nextCursor}`);
      expect(wrong.status).toBe(400);
      expect(wrong.body.message).toEqual(['invalid cursor']);
    });
  });

  describe('GET /v1/stats', () => {
    it('counts users per status, the backlog, last hour pushes by outcome and code; no consumer lag before one is measured', async () => {
      await q(`INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_revision, desired_changed_at, status)
               VALUES ('', 'open_id', 'late', 3, now() - interval '2 hours', 'pending')`);
      await q(`
        INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, outcome, code, http_status)
        SELECT now() - interval '10 minutes', '', 'open_id', 'late', 'push', o, c, h
        FROM (VALUES ('applied', 0, 200), ('applied', 0, 200), ('applied', 0, 200),
                     ('version_conflict', 213001, 400), ('version_conflict', 213001, 400),
                     ('transient', NULL, 503), ('rate_limited', 99991400, 429)) v(o, c, h)
        UNION ALL SELECT now() - interval '2 hours', '', 'open_id', 'late', 'push', 'applied', 0, 200`);
      const byStatus: { status: string; n: number }[] = await q(`SELECT status, count(*)::int AS n FROM badge_state GROUP BY 1`);
      const n = (s: string) => byStatus.find((x) => x.status === s)?.n ?? 0;
      const [dirty] = await q(`SELECT count(*)::int AS n FROM badge_state WHERE desired_revision > pushed_revision AND status <> 'parked'`);

      const r = await api.call('/v1/stats');
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        mode: { feishu: 'live', since: expect.any(String), shadow: null },
        users: { pending: n('pending'), in_sync: n('in_sync'), backing_off: n('backing_off'), parked: n('parked'), total: byStatus.reduce((a, x) => a + x.n, 0) },
        dirty: dirty.n,
        oldestPendingAgeSeconds: expect.any(Number),
        pushesLastHour: {
          byOutcome: { applied: 3, version_conflict: 2, transient: 1, rate_limited: 1 },
          byCode: { '0': 3, '213001': 2, '99991400': 1 },
        },
        consumerLag: null,
        appTicket: null,
      });
      expect(r.body.users.parked).toBe(5);
      expect(r.body.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(7200);
      expect(r.body.oldestPendingAgeSeconds).toBeLessThan(7300);
    });

    it('refuses parameters it does not take', async () => {
      const r = await api.call('/v1/stats?verbose=1');
      expect(r.status).toBe(400);
      expect(r.body.message).toEqual(['property verbose should not exist']);
    });
  });

  describe('POST /v1/badges/:userId/resync', () => {
    let listener: Client;
    const notes: Notification[] = [];

    beforeAll(async () => {
      listener = new Client({ connectionString: db.url });
      await listener.connect();
      listener.on('notification', (n) => notes.push(n));
      await listener.query('LISTEN badge_dirty');
    });
    afterAll(() => listener.end());

    it('un-parks the user, forces a full push now, records it and wakes the reconcilers', async () => {
      await apply([event('dave', 'approval', 1, counts(3, 0, 3, 0))]);
      await q(`UPDATE badge_state SET status = 'parked', attempts = 4, next_attempt_at = now() + interval '1 day',
                 pushed_revision = desired_revision, last_error_code = 213007 WHERE user_id = 'dave'`);
      const [before] = await q(`SELECT desired_revision::int AS rev FROM badge_state WHERE user_id = 'dave'`);
      notes.length = 0;

      const r = await api.call('/v1/badges/dave/resync', { method: 'POST' });
      expect(r.status).toBe(202);
      expect(r.body).toEqual({ userId: 'dave', userIdType: 'open_id', tenantKey: '', desiredRevision: before.rev + 1, status: 'pending' });

      const [after] = await q(`SELECT force_full, status, attempts, desired_revision::int AS rev, pushed_revision::int AS pushed,
                                      next_attempt_at <= now() AS due FROM badge_state WHERE user_id = 'dave'`);
      expect(after).toEqual({ force_full: true, status: 'pending', attempts: 0, rev: before.rev + 1, pushed: before.rev, due: true });
      await waitFor('a badge_dirty notification', () => notes.some((n) => n.channel === 'badge_dirty'), 10_000, 20);

      const { body } = await api.call('/v1/badges/dave/history?limit=1');
      expect(body.items[0]).toEqual({ at: expect.any(String), kind: 'resync', detail: 'resync by AUDIT_API_TOKENS#2 (was parked)' });
      expect((await api.call('/v1/badges/dave')).body).toMatchObject({ status: 'pending', inSync: false });
    });

    it('answers 404 for an unknown user and changes nothing', async () => {
      notes.length = 0;
      const r = await api.call('/v1/badges/nobody/resync?tenantKey=t9', { method: 'POST' });
      expect(r.status).toBe(404);
      expect((await q(`SELECT count(*)::int AS n FROM badge_audit WHERE kind = 'resync' AND user_id = 'nobody'`))[0].n).toBe(0);
    });
  });

  describe('authentication', () => {
    const routes: [string, string][] = [
      ['GET', '/v1/badges/alice'],
      ['GET', '/v1/badges/alice/history'],
      ['GET', '/v1/badges?status=pending'],
      ['GET', '/v1/stats'],
      ['POST', '/v1/badges/alice/resync'],
    ];

    it.each(routes)('%s %s answers 401 without a token, with another scheme or with a wrong token', async (method, path) => {
      const cases: [string | null, string][] = [
        [null, 'missing bearer token'],
        [`Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, 'unsupported authorization scheme'],
        ['Bearer wrong-token-0123456789abcdefgh', 'invalid token'],
        [`Bearer ${TOKEN.slice(0, -1)}`, 'invalid token'],
      ];
      for (const [auth, reason] of cases) {
        const r = await api.call(path, { method, auth });
        expect({ auth, status: r.status }).toEqual({ auth, status: 401 });
        expect(r.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringContaining(reason), correlationId: expect.any(String) });
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="badge-audit"/);
        expect(JSON.stringify(r.body)).not.toContain('wrong-token');
        expect(JSON.stringify(r.body)).not.toContain(TOKEN.slice(0, 12));
      }
    });

    it('accepts every configured token, scheme in any case; health and metrics need none', async () => {
      expect((await api.call('/v1/stats', { auth: 'Bearer another-token-that-is-long-enough' })).status).toBe(200);
      expect((await api.call('/v1/stats', { auth: `bearer ${TOKEN}` })).status).toBe(200);
      expect((await api.call('/health/live', { auth: null })).status).toBe(200);
      expect((await api.call('/health/ready', { auth: null })).status).toBe(200);
    });

    it('does not let a resync through without a token', async () => {
      const [before] = await q(`SELECT desired_revision FROM badge_state WHERE user_id = 'alice'`);
      await api.call('/v1/badges/alice/resync', { method: 'POST', auth: null });
      expect((await q(`SELECT desired_revision FROM badge_state WHERE user_id = 'alice'`))[0]).toEqual(before);
    });
  });

  describe('malformed input', () => {
    const long = 'u'.repeat(129);
    it.each([
      ['an unknown query field', '/v1/badges/alice?foo=1', 'property foo should not exist'],
      ['an unknown userIdType', '/v1/badges/alice?userIdType=email', 'userIdType must be one of the following values: open_id, union_id, user_id'],
      ['a repeated parameter', '/v1/badges/alice?tenantKey=a&tenantKey=b', 'tenantKey must be a string'],
      ['a user id over 128 characters', `/v1/badges/${long}`, 'userId must be shorter than or equal to 128 characters'],
      ['a tenant key over 128 characters', `/v1/badges/alice?tenantKey=${long}`, 'tenantKey must be shorter than or equal to 128 characters'],
      ['limit 0', '/v1/badges/alice/history?limit=0', 'limit must not be less than 1'],
      ['limit 1000', '/v1/badges/alice/history?limit=1000', 'limit must not be greater than 200'],
      ['a non-numeric limit', '/v1/badges/alice/history?limit=ten', 'limit must be an integer number'],
      ['a fractional limit', '/v1/badges?status=pending&limit=1.5', 'limit must be an integer number'],
      ['a malformed history cursor', '/v1/badges/alice/history?cursor=not-a-cursor', 'invalid cursor'],
      ['a history cursor of SQL', `/v1/badges/alice/history?cursor=${Buffer.from(`["h","' OR 1=1 --","1"]`).toString('base64url')}`, 'invalid cursor'],
      ['a malformed list cursor', '/v1/badges?status=pending&cursor=%27%20OR%201%3D1%20--', 'invalid cursor'],
      ['a missing status', '/v1/badges', 'status must be one of the following values: pending, in_sync, backing_off, parked'],
      ['an unknown status', '/v1/badges?status=done', 'status must be one of the following values: pending, in_sync, backing_off, parked'],
      ['an unknown field on resync', '/v1/badges/alice/resync?force=1', 'property force should not exist'],
    ])('answers 400 with the reasons for %s', async (_, path, reason) => {
      const method = path.includes('/resync') ? 'POST' : 'GET';
      const r = await api.call(path, { method, headers: { 'x-request-id': 'trace-42' } });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.arrayContaining([reason]), correlationId: 'trace-42' });
      expect(r.headers.get('x-request-id')).toBe('trace-42');
    });

    it('lists every reason at once', async () => {
      const r = await api.call('/v1/badges/alice/history?limit=0&userIdType=x&bar=2');
      expect(r.body.message).toEqual(
        expect.arrayContaining(['property bar should not exist', 'limit must not be less than 1', expect.stringContaining('userIdType must be one of')]),
      );
    });

    it('treats SQL-looking values as plain data', async () => {
      const sql = "' OR 1=1 --";
      const enc = encodeURIComponent(sql);
      expect((await api.call(`/v1/badges/${enc}`)).status).toBe(404);
      expect((await api.call(`/v1/badges/alice?tenantKey=${encodeURIComponent("'; DROP TABLE badge_state; --")}`)).status).toBe(404);
      expect((await api.call(`/v1/badges/${enc}/history`)).status).toBe(404);
      await apply([event(sql, 'approval', 1, counts(6))]);
      const r = await api.call(`/v1/badges/${enc}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ userId: sql, desired: { pc: { web_app: 6, gadget: 0 } } });
      expect((await api.call(`/v1/badges/${enc}/history`)).body.items).toHaveLength(1);
      expect((await q(`SELECT count(*)::int AS n FROM badge_state`))[0].n).toBeGreaterThan(5);
    });

    it('replaces an unsafe incoming x-request-id with a fresh one', async () => {
      const r = await api.call('/v1/badges/nobody', { headers: { 'x-request-id': 'has spaces and "quotes"' } });
      expect(r.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('x-request-id')).toBe(r.body.correlationId);
    });
  });

  it('answers an internal failure with 500, a correlation id and no internals', async () => {
    await q(`ALTER TABLE badge_source RENAME TO badge_source_away`);
    try {
      const r = await api.call('/v1/badges/alice', { headers: { 'x-request-id': 'boom-1' } });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'internal error', correlationId: 'boom-1' });
    } finally {
      await q(`ALTER TABLE badge_source_away RENAME TO badge_source`);
    }
  });

  it('describes every /v1 route, its parameters and responses in the OpenAPI document, behind bearer auth', () => {
    const doc = SwaggerModule.createDocument(api.app, new DocumentBuilder().addBearerAuth().build());
    const ops = {
      badge: doc.paths['/v1/badges/{userId}']?.get,
      history: doc.paths['/v1/badges/{userId}/history']?.get,
      list: doc.paths['/v1/badges']?.get,
      stats: doc.paths['/v1/stats']?.get,
      resync: doc.paths['/v1/badges/{userId}/resync']?.post,
    };
    for (const [name, op] of Object.entries(ops)) {
      expect({ name, security: op?.security }).toEqual({ name, security: [{ bearer: [] }] });
      expect(Object.keys(op!.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '429']));
      expect((op!.responses['429'] as any).headers['Retry-After']).toBeDefined();
    }
    expect(ops.history!.parameters!.map((p: any) => p.name).sort()).toEqual(['cursor', 'limit', 'tenantKey', 'userId', 'userIdType']);
    expect((ops.resync!.responses['202'] as any).content['application/json'].schema.$ref).toBe('#/components/schemas/ResyncAcceptedView');
    const schemas = doc.components!.schemas as Record<string, any>;
    expect(Object.keys(schemas.BadgeView.properties)).toEqual(
      expect.arrayContaining(['userId', 'desired', 'applied', 'inSync', 'status', 'sources', 'lastError']),
    );
    expect(doc.paths['/health/live']?.get?.security).toBeUndefined();
  });

  it.each(['api', 'ingest,api'])('takes consumer lag from the Kafka admin client, with or without ingest (roles %s)', async (roles) => {
    const config = loadConfig({ BADGE_ROLES: roles, DATABASE_URL: db.url, DATABASE_POOL_SIZE: '2', AUDIT_API_TOKENS: TOKEN, LOG_LEVEL: 'silent' });
    // compile() wires the graph without bootstrapping, so no Kafka connection is made.
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    try {
      const monitor = moduleRef.get(ConsumerLagMonitor, { strict: false });
      expect(moduleRef.get(CONSUMER_LAG, { strict: false })).toBe(monitor);
      expect((moduleRef.get(AuditStatsService, { strict: false }) as unknown as { lag: unknown }).lag).toBe(monitor);
    } finally {
      await moduleRef.close();
    }
  });
});
