import type { BadgeCountColumns } from './badge-state.columns';
import { DataSource } from 'typeorm';
import { DIRTY_PREDICATE } from './dirty-set';
import { NOTIFY_DIRTY_SQL } from './ingest.repository';
import { queryNamed } from './named-statement';
import { type AuditKind, type BadgeStatus, sqlKind } from './vocabulary';

export interface UserKey {
  tenantKey: string;
  userIdType: string;
  userId: string;
}

/** Keyset position in one user's timeline: `at` in microseconds as text (Postgres precision), then `id`. */
export interface HistoryPosition {
  at: string;
  id: string;
}

const AT_TEXT = `to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const SOURCE_COLUMNS = `source, sequence::text, event_id, pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at, updated_at`;

/** A user's sources in source order, by the primary key: the first $4, or the $4 after source $5 (keyset). */
export const BADGE_SOURCES_SQL = `
  SELECT ${SOURCE_COLUMNS}
  FROM badge_source WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3
  ORDER BY source LIMIT $4`;

export const BADGE_SOURCES_AFTER_SQL = `
  SELECT ${SOURCE_COLUMNS}
  FROM badge_source WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3 AND source > $5
  ORDER BY source LIMIT $4`;

/** The badge and its first $4 sources in source order, in one statement: one row per source with the state's columns
 * on each, or one row with null source columns when the user has none; no row for an unknown user. */
export const BADGE_SQL = `
  SELECT s.tenant_key, s.user_id_type, s.user_id,
         s.desired_pc_web_app, s.desired_pc_gadget, s.desired_mobile_web_app, s.desired_mobile_gadget,
         s.applied_pc_web_app, s.applied_pc_gadget, s.applied_mobile_web_app, s.applied_mobile_gadget,
         s.status, s.next_attempt_at, s.attempts, s.desired_revision::text, s.pushed_revision::text, s.last_version::text,
         s.last_pushed_at, s.desired_changed_at,
         s.last_error_code, s.last_error_message, s.last_error_log_id, s.last_error_at,
         src.source, src.sequence, src.event_id, src.pc_web_app, src.pc_gadget, src.mobile_web_app, src.mobile_gadget,
         src.occurred_at, src.updated_at
  FROM badge_state s
  LEFT JOIN LATERAL (
    SELECT ${SOURCE_COLUMNS} FROM badge_source b
    WHERE b.tenant_key = s.tenant_key AND b.user_id_type = s.user_id_type AND b.user_id = s.user_id
    ORDER BY b.source LIMIT $4
  ) src ON true
  WHERE s.tenant_key = $1 AND s.user_id_type = $2 AND s.user_id = $3
  ORDER BY src.source`;

const HISTORY_COLUMNS = `
  ${AT_TEXT} AS at, a.id::text AS id, kind, source, sequence::text, event_id, old_counts, new_counts, version::text,
  outcome, code, http_status, latency_ms, log_id, detail`;

/** Newest first over the index badge_audit_user (tenant_key, user_id_type, user_id, at DESC, id DESC). ORDER BY names
 * the table's columns (a.at, a.id): bare names would sort by the text output columns of the same names. */
export const HISTORY_FIRST_PAGE_SQL = `
  SELECT ${HISTORY_COLUMNS} FROM badge_audit a
  WHERE a.tenant_key = $1 AND a.user_id_type = $2 AND a.user_id = $3
  ORDER BY a.at DESC, a.id DESC LIMIT $4`;

export const HISTORY_AFTER_SQL = `
  SELECT ${HISTORY_COLUMNS} FROM badge_audit a
  WHERE a.tenant_key = $1 AND a.user_id_type = $2 AND a.user_id = $3 AND (a.at, a.id) < ($5::timestamptz, $6::bigint)
  ORDER BY a.at DESC, a.id DESC LIMIT $4`;

export const USER_EXISTS_SQL = `
  SELECT 1 FROM badge_state WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3`;

const LIST_COLUMNS = `
  tenant_key, user_id_type, user_id, status, desired_changed_at, next_attempt_at, attempts,
  last_error_code, last_error_message, last_error_log_id, last_error_at`;

/** Keyset over the index badge_state_status (status, tenant_key, user_id_type, user_id): each page starts strictly
 * after the last key seen, so concurrent writes cause no duplicate, and a user keeping its status is never skipped. */
export const LIST_BY_STATUS_FIRST_PAGE_SQL = `
  SELECT ${LIST_COLUMNS} FROM badge_state WHERE status = $1
  ORDER BY tenant_key, user_id_type, user_id LIMIT $2`;

export const LIST_BY_STATUS_AFTER_SQL = `
  SELECT ${LIST_COLUMNS} FROM badge_state
  WHERE status = $1 AND (tenant_key, user_id_type, user_id) > ($3, $4, $5)
  ORDER BY tenant_key, user_id_type, user_id LIMIT $2`;

/** Tenant-restricted tokens (a list of tenant keys as $N::text[]) read through these variants of the lists and
 * totals below: the same index order, with tenant_key bound to the token's tenants. */
export const LIST_BY_STATUS_IN_TENANTS_FIRST_PAGE_SQL = `
  SELECT ${LIST_COLUMNS} FROM badge_state WHERE status = $1 AND tenant_key = ANY($3::text[])
  ORDER BY tenant_key, user_id_type, user_id LIMIT $2`;

export const LIST_BY_STATUS_IN_TENANTS_AFTER_SQL = `
  SELECT ${LIST_COLUMNS} FROM badge_state
  WHERE status = $1 AND tenant_key = ANY($6::text[]) AND (tenant_key, user_id_type, user_id) > ($3, $4, $5)
  ORDER BY tenant_key, user_id_type, user_id LIMIT $2`;

/** Per-status counts from the totals the badge_state triggers keep and the deltas not yet folded into them, in one
 * snapshot (migration StatusCounts1764979200000): a few rows per tenant, whatever the number of users. */
export const COUNT_BY_STATUS_SQL = `
  SELECT coalesce(sum(n) FILTER (WHERE status = 'pending'), 0)::int     AS pending,
         coalesce(sum(n) FILTER (WHERE status = 'in_sync'), 0)::int     AS in_sync,
         coalesce(sum(n) FILTER (WHERE status = 'backing_off'), 0)::int AS backing_off,
         coalesce(sum(n) FILTER (WHERE status = 'parked'), 0)::int      AS parked,
         coalesce(sum(n), 0)::int                                       AS total
  FROM (SELECT tenant_key, status, n FROM badge_status_count
        UNION ALL
        SELECT tenant_key, status, n FROM badge_status_delta) c`;

export const COUNT_BY_STATUS_IN_TENANTS_SQL = `${COUNT_BY_STATUS_SQL} WHERE tenant_key = ANY($1::text[])`;

/** The reconciler's backlog through the partial index badge_state_dirty: parked users wait for an operator, not
 * for the reconciler, so they are counted under `parked` and not here (as the badge_dirty_users gauge does). */
export const BACKLOG_SUMMARY_SQL = `
  SELECT count(*)::int AS dirty,
         extract(epoch FROM clock_timestamp() - min(desired_changed_at))::float8 AS oldest_age_seconds
  FROM badge_state WHERE ${DIRTY_PREDICATE}`;

export const BACKLOG_SUMMARY_IN_TENANTS_SQL = `${BACKLOG_SUMMARY_SQL} AND tenant_key = ANY($1::text[])`;

/**
 * The window's start ($1 seconds back), its minute (epoch minutes) and the end of that first, partial minute, each
 * a scalar subquery: computed once per execution (not per row), and, being unknown to the planner whether or not $1
 * is, they make the custom and generic plans alike, so the prepared statement settles on the generic plan instead
 * of planning every request over the day partitions (1.3-2 ms, more than running it).
 */
const WINDOW_START = `(SELECT now() - $1 * interval '1 second')`;
const WINDOW_MINUTE = `(SELECT floor(extract(epoch FROM now() - $1 * interval '1 second') / 60)::bigint)`;
const WINDOW_FIRST_MINUTE_END = `(SELECT to_timestamp((floor(extract(epoch FROM now() - $1 * interval '1 second') / 60) + 1) * 60))`;

/**
 * Pushes since $1 seconds ago by outcome and code, exactly: the first, partial minute from the rows (the partial
 * index badge_audit_push_outcome, at most a minute of pushes), every later minute from the per-minute counts and
 * the deltas not yet folded into them (migration PushCounts1764979200001), in one snapshot. `tenants` ($2, the
 * IN_TENANTS variant) reads the tenants' own counts; otherwise the all-tenants counts (tenant_key NULL).
 */
const pushesSince = (tenant: string) => `
  SELECT outcome, code, sum(n)::int AS n FROM (
    SELECT outcome, code, count(*) AS n FROM badge_audit
    WHERE kind = ${sqlKind('push')} AND at >= ${WINDOW_START} AND at < ${WINDOW_FIRST_MINUTE_END}
      AND ${tenant.replace('tenant_key IS NULL', 'true')}
    GROUP BY outcome, code
    UNION ALL
    SELECT outcome, code, n FROM badge_push_count WHERE ${tenant} AND minute > ${WINDOW_MINUTE}
    UNION ALL
    SELECT outcome, code, n FROM badge_push_delta WHERE ${tenant} AND minute > ${WINDOW_MINUTE}
  ) p
  GROUP BY outcome, code`;

export const PUSHES_SINCE_SQL = pushesSince('tenant_key IS NULL');

export const PUSHES_SINCE_IN_TENANTS_SQL = pushesSince('tenant_key = ANY($2::text[])');

/**
 * Shadow mode: the would-be pushes of the last $1 seconds, and the busiest minute among them (the push rate the
 * workload would need from Feishu). From the push-outcome index, as the other push figures.
 */
export const SHADOW_RATE_SQL = `
  SELECT coalesce(sum(n), 0)::int AS n, coalesce(max(n), 0)::int AS busiest_minute FROM (
    SELECT count(*) AS n FROM badge_audit
    WHERE kind = 'push' AND outcome = 'shadow' AND at >= now() - $1 * interval '1 second'
      AND ($2::text[] IS NULL OR tenant_key = ANY($2::text[]))
    GROUP BY date_trunc('minute', at)
  ) per_minute`;

export const SERVICE_MODE_SQL = `SELECT mode, changed_at FROM service_mode WHERE id = 1`;

/**
 * GET /v1/stats in one round trip (each pooled query is a socket write and a wake-up of a backend): users per
 * status, the backlog, the pushes since $1 seconds ago and the service mode, of the tenants $2 (the IN_TENANTS
 * variant) or of all. Each part is the statement above of the same name.
 */
const overview = (counts: string, backlog: string, pushes: string) => `
  SELECT c.pending, c.in_sync, c.backing_off, c.parked, c.total, b.dirty, b.oldest_age_seconds, m.mode, m.changed_at,
         (SELECT coalesce(json_agg(json_build_object('outcome', p.outcome, 'code', p.code, 'n', p.n)), '[]') FROM (${pushes}) p) AS pushes
  FROM (${counts}) c CROSS JOIN (${backlog}) b LEFT JOIN (${SERVICE_MODE_SQL}) m ON true`;

export const OVERVIEW_SQL = overview(COUNT_BY_STATUS_SQL, BACKLOG_SUMMARY_SQL, PUSHES_SINCE_SQL);

export const OVERVIEW_IN_TENANTS_SQL = overview(
  COUNT_BY_STATUS_IN_TENANTS_SQL.replace('$1::text[]', '$2::text[]'),
  BACKLOG_SUMMARY_IN_TENANTS_SQL.replace('$1::text[]', '$2::text[]'),
  PUSHES_SINCE_IN_TENANTS_SQL,
);

/** The store app's app_ticket as the callback stored it (the api role may not hold it in memory). */
export const APP_TICKET_RECEIVED_SQL = `
  SELECT received_at FROM feishu_app_ticket WHERE ($1::text = '' OR app_id = $1) ORDER BY received_at DESC LIMIT 1`;

/** Operator resync: the reconciler pushes both sides now (force_full) or, while a push is in flight, right after
 * it; a parked user is un-parked. `before`
 * must not lock (FOR UPDATE would skip the row this statement updates); it only names the previous status. */
export const RESYNC_SQL = `
  WITH before AS (
    SELECT status FROM badge_state WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3
  ),
  upd AS (
    -- A user leased by a replica keeps its lease and due time: the push in flight completes, sees the new
    -- revision and leaves the user dirty, and the full re-push follows (never two pushes of one user at once).
    -- An operator waiting on one user is live work (priority lanes).
    UPDATE badge_state SET force_full = true, desired_revision = desired_revision + 1, status = 'pending',
                           attempts = 0, lane = 0, updated_at = now(),
                           next_attempt_at = CASE WHEN lease_expires_at > clock_timestamp() THEN next_attempt_at
                                                  ELSE clock_timestamp() END
    WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3
    RETURNING tenant_key, user_id_type, user_id, desired_revision::text, status
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, detail)
    SELECT u.tenant_key, u.user_id_type, u.user_id, ${sqlKind('resync')}, $4 || ' (was ' || b.status || ')'
    FROM upd u, before b
  )
  SELECT u.tenant_key, u.user_id_type, u.user_id, u.desired_revision, u.status FROM upd u`;

export interface BadgeStateRow extends BadgeCountColumns {
  tenant_key: string;
  user_id_type: string;
  user_id: string;
  status: BadgeStatus;
  next_attempt_at: Date;
  attempts: number;
  desired_revision: string;
  pushed_revision: string;
  last_version: string;
  last_pushed_at: Date | null;
  desired_changed_at: Date;
  last_error_code: number | null;
  last_error_message: string | null;
  last_error_log_id: string | null;
  last_error_at: Date | null;
}

export interface BadgeSourceRow {
  source: string;
  sequence: string;
  event_id: string;
  pc_web_app: number;
  pc_gadget: number;
  mobile_web_app: number;
  mobile_gadget: number;
  occurred_at: Date;
  updated_at: Date;
}

export interface AuditRow {
  at: string;
  id: string;
  kind: AuditKind;
  source: string | null;
  sequence: string | null;
  event_id: string | null;
  old_counts: unknown;
  new_counts: unknown;
  version: string | null;
  outcome: string | null;
  code: number | null;
  http_status: number | null;
  latency_ms: number | null;
  log_id: string | null;
  detail: string | null;
}

export interface StatusListRow {
  tenant_key: string;
  user_id_type: string;
  user_id: string;
  status: BadgeStatus;
  desired_changed_at: Date;
  next_attempt_at: Date;
  attempts: number;
  last_error_code: number | null;
  last_error_message: string | null;
  last_error_log_id: string | null;
  last_error_at: Date | null;
}

export type StatusCounts = Record<BadgeStatus, number> & { total: number };

export interface PushCount {
  outcome: string | null;
  code: number | null;
  n: number;
}

export interface Overview {
  users: StatusCounts;
  dirty: { dirty: number; oldestAgeSeconds: number | null };
  pushes: PushCount[];
  mode: { mode: 'live' | 'shadow'; since: Date };
}

export interface ResyncRow {
  tenant_key: string;
  user_id_type: string;
  user_id: string;
  desired_revision: string;
  status: BadgeStatus;
}

const keyParams = (k: UserKey) => [k.tenantKey, k.userIdType, k.userId];

/** A row of BADGE_SQL: the source columns are null when the user has no source. */
type NullableSource = { [K in keyof BadgeSourceRow]: BadgeSourceRow[K] | null };

const sourceOf = (r: BadgeSourceRow): BadgeSourceRow => ({
  source: r.source,
  sequence: r.sequence,
  event_id: r.event_id,
  pc_web_app: r.pc_web_app,
  pc_gadget: r.pc_gadget,
  mobile_web_app: r.mobile_web_app,
  mobile_gadget: r.mobile_gadget,
  occurred_at: r.occurred_at,
  updated_at: r.updated_at,
});

/** Every read the audit API makes, and the operator resync. Parameterised statements only. */
export class AuditRepository {
  constructor(private readonly ds: DataSource) {}

  /** The badge with its first `sourcesLimit` sources (in source order), in one round trip. */
  async badge(key: UserKey, sourcesLimit: number): Promise<{ state: BadgeStateRow; sources: BadgeSourceRow[] } | null> {
    const rows = await this.prepared<BadgeStateRow & NullableSource>('audit_badge', BADGE_SQL, [...keyParams(key), sourcesLimit]);
    if (rows.length === 0) return null;
    // The state's columns are on every row (the source columns beside them are not read from `state`).
    return { state: rows[0], sources: rows[0].source === null ? [] : (rows as BadgeSourceRow[]).map(sourceOf) };
  }

  /** Up to `limit` of the user's sources in source order, strictly after the source `after`. */
  sources(key: UserKey, limit: number, after?: string): Promise<BadgeSourceRow[]> {
    return after === undefined
      ? this.prepared('audit_badge_sources_first_page', BADGE_SOURCES_SQL, [...keyParams(key), limit])
      : this.prepared('audit_badge_sources_after', BADGE_SOURCES_AFTER_SQL, [...keyParams(key), limit, after]);
  }

  async userExists(key: UserKey): Promise<boolean> {
    return (await this.prepared('audit_user_exists', USER_EXISTS_SQL, keyParams(key))).length > 0;
  }

  /** Up to `limit` entries strictly older than `after` (newest first). */
  history(key: UserKey, limit: number, after?: HistoryPosition): Promise<AuditRow[]> {
    return after
      ? this.prepared('audit_history_after', HISTORY_AFTER_SQL, [...keyParams(key), limit, after.at, after.id])
      : this.prepared('audit_history_first_page', HISTORY_FIRST_PAGE_SQL, [...keyParams(key), limit]);
  }

  /**
   * The per-request reads run as named prepared statements, so each pooled connection parses and plans them once:
   * planning the history page over every daily partition cost as much as running it (bench/audit.bench.mjs).
   */
  private prepared<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    return queryNamed<T>(this.ds, { name, text }, values);
  }

  /** Up to `limit` users with the status, in key order, strictly after `after`; only `tenants` unless null. */
  listByStatus(status: BadgeStatus, limit: number, after?: UserKey, tenants: readonly string[] | null = null): Promise<StatusListRow[]> {
    if (tenants !== null) {
      return after
        ? this.ds.query(LIST_BY_STATUS_IN_TENANTS_AFTER_SQL, [status, limit, ...keyParams(after), tenants])
        : this.ds.query(LIST_BY_STATUS_IN_TENANTS_FIRST_PAGE_SQL, [status, limit, tenants]);
    }
    return after
      ? this.ds.query(LIST_BY_STATUS_AFTER_SQL, [status, limit, ...keyParams(after)])
      : this.ds.query(LIST_BY_STATUS_FIRST_PAGE_SQL, [status, limit]);
  }

  /* GET /v1/stats's reads run as named prepared statements too: planning the pushes' read over the day partitions
   * cost more than running it. */
  async countByStatus(tenants: readonly string[] | null = null): Promise<StatusCounts> {
    const [row] =
      tenants === null
        ? await this.prepared<StatusCounts>('audit_count_by_status', COUNT_BY_STATUS_SQL, [])
        : await this.prepared<StatusCounts>('audit_count_by_status_in_tenants', COUNT_BY_STATUS_IN_TENANTS_SQL, [tenants]);
    return row;
  }

  async dirtySummary(tenants: readonly string[] | null = null): Promise<{ dirty: number; oldestAgeSeconds: number | null }> {
    type Row = { dirty: number; oldest_age_seconds: number | null };
    const [row] =
      tenants === null
        ? await this.prepared<Row>('audit_backlog_summary', BACKLOG_SUMMARY_SQL, [])
        : await this.prepared<Row>('audit_backlog_summary_in_tenants', BACKLOG_SUMMARY_IN_TENANTS_SQL, [tenants]);
    return { dirty: row.dirty, oldestAgeSeconds: row.oldest_age_seconds };
  }

  pushesSince(seconds: number, tenants: readonly string[] | null = null): Promise<PushCount[]> {
    return tenants === null
      ? this.prepared('audit_pushes_since', PUSHES_SINCE_SQL, [seconds])
      : this.prepared('audit_pushes_since_in_tenants', PUSHES_SINCE_IN_TENANTS_SQL, [seconds, tenants]);
  }

  /** countByStatus, dirtySummary, pushesSince and serviceMode in one statement (GET /v1/stats). */
  async overview(pushSeconds: number, tenants: readonly string[] | null = null): Promise<Overview> {
    type Row = StatusCounts & { dirty: number; oldest_age_seconds: number | null; mode: 'live' | 'shadow' | null; changed_at: Date | null; pushes: PushCount[] };
    const [r] =
      tenants === null
        ? await this.prepared<Row>('audit_overview', OVERVIEW_SQL, [pushSeconds])
        : await this.prepared<Row>('audit_overview_in_tenants', OVERVIEW_IN_TENANTS_SQL, [pushSeconds, tenants]);
    return {
      users: { pending: r.pending, in_sync: r.in_sync, backing_off: r.backing_off, parked: r.parked, total: r.total },
      dirty: { dirty: r.dirty, oldestAgeSeconds: r.oldest_age_seconds },
      pushes: r.pushes,
      mode: r.mode === null ? { mode: 'live', since: new Date(0) } : { mode: r.mode, since: r.changed_at! },
    };
  }

  /** Shadow pushes in the last `seconds`, and the count of the busiest minute among them. */
  async shadowPushes(seconds: number, tenants: readonly string[] | null = null): Promise<{ n: number; busiestMinute: number }> {
    const [r] = await this.ds.query(SHADOW_RATE_SQL, [seconds, tenants]);
    return { n: r.n, busiestMinute: r.busiest_minute };
  }

  /** The deployment's FEISHU_MODE as the database holds it (every replica claims only in it). */
  async serviceMode(): Promise<{ mode: 'live' | 'shadow'; since: Date }> {
    const [r] = await this.prepared<{ mode: 'live' | 'shadow'; changed_at: Date }>('audit_service_mode', SERVICE_MODE_SQL, []);
    return r ? { mode: r.mode, since: r.changed_at } : { mode: 'live', since: new Date(0) };
  }

  /** When the store app's current app_ticket was stored; null when none has arrived. */
  async appTicketReceivedAt(appId: string): Promise<Date | null> {
    const [row]: { received_at: Date }[] = await this.ds.query(APP_TICKET_RECEIVED_SQL, [appId]);
    return row?.received_at ?? null;
  }

  /** Marks the user for a full push now and wakes the reconcilers (the notification is sent at commit). */
  resync(key: UserKey, detail: string): Promise<ResyncRow | null> {
    return this.ds.transaction(async (m) => {
      const rows: ResyncRow[] = await m.query(RESYNC_SQL, [...keyParams(key), detail]);
      if (rows.length === 0) return null;
      await m.query(NOTIFY_DIRTY_SQL, ['1']);
      return rows[0];
    });
  }
}

/* The console's reads: the badge at a past moment, and the health series. */

/** Per source, its latest change at or before $4 (its counts then), over the index badge_audit_user. */
export const SOURCES_CHANGED_BY_SQL = `
  SELECT DISTINCT ON (a.source) a.source, a.new_counts AS counts, a.sequence::text AS sequence, a.event_id, ${AT_TEXT} AS at
  FROM badge_audit a
  WHERE a.tenant_key = $1 AND a.user_id_type = $2 AND a.user_id = $3 AND a.kind = 'change' AND a.at <= $4::timestamptz
  ORDER BY a.source, a.at DESC, a.id DESC`;

/** Per source, its first change after $4: the counts it replaced are the source's counts at $4 (null: none stored). */
export const SOURCES_CHANGED_AFTER_SQL = `
  SELECT DISTINCT ON (a.source) a.source, a.old_counts AS counts
  FROM badge_audit a
  WHERE a.tenant_key = $1 AND a.user_id_type = $2 AND a.user_id = $3 AND a.kind = 'change' AND a.at > $4::timestamptz
  ORDER BY a.source, a.at ASC, a.id ASC`;

export const ALL_SOURCES_SQL = `
  SELECT ${SOURCE_COLUMNS} FROM badge_source WHERE tenant_key = $1 AND user_id_type = $2 AND user_id = $3 ORDER BY source`;

/** The database's now, and whether $1 is after it (the `at` of a badge-at request is judged on the audit's clock). */
export const AT_CHECK_SQL = `
  SELECT ${AT_TEXT.replace('a.at', 'clock_timestamp()')} AS now, $1::timestamptz > clock_timestamp() AS future`;

/**
 * Pushes per minute by outcome, with the event→applied latency of the applied ones, between $1 and $2: an
 * index-only scan of the partial index badge_audit_series over the window's partitions.
 */
export const PUSH_SERIES_SQL = `
  SELECT (extract(epoch FROM date_trunc('minute', at)) * 1000)::float8 AS minute_ms, outcome, count(*)::int AS n,
         count(event_lag_ms)::int AS lag_n,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY event_lag_ms)::float8 AS lag_p50_ms,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY event_lag_ms)::float8 AS lag_p95_ms,
         max(event_lag_ms)::int AS lag_max_ms
  FROM badge_audit
  WHERE kind = 'push' AND at >= $1::timestamptz AND at < $2::timestamptz
  GROUP BY 1, 2 ORDER BY 1, 2`;

export const PUSH_SERIES_IN_TENANTS_SQL = PUSH_SERIES_SQL.replace(
  'AND at < $2::timestamptz',
  'AND at < $2::timestamptz AND tenant_key = ANY($3::text[])',
);

/** The series' window: the last $1 whole minutes up to the database's current minute (included). */
export const SERIES_WINDOW_SQL = `
  SELECT (extract(epoch FROM date_trunc('minute', clock_timestamp()) - ($1 - 1) * interval '1 minute') * 1000)::float8 AS from_ms,
         (extract(epoch FROM date_trunc('minute', clock_timestamp()) + interval '1 minute') * 1000)::float8 AS to_ms`;

/** The oldest day partition still kept: audit rows before its start may have been dropped by retention. */
export const AUDIT_KEPT_SINCE_SQL = `
  SELECT min(to_date(substr(c.relname, 14), 'YYYYMMDD'))::text AS day
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'badge_audit'::regclass AND c.relname ~ '^badge_audit_p[0-9]{8}$'`;

export interface SourceAtRow {
  source: string;
  counts: { pc: { web_app: number; gadget: number }; mobile: { web_app: number; gadget: number } } | null;
  sequence?: string;
  event_id?: string | null;
  at?: string;
}

export interface PushSeriesRow {
  minute_ms: number;
  outcome: string | null;
  n: number;
  lag_n: number;
  lag_p50_ms: number | null;
  lag_p95_ms: number | null;
  lag_max_ms: number | null;
}

/** The console's reads (GET /v1/badges/{userId}?at=, GET /v1/stats/series). */
export class AuditLookbackRepository {
  constructor(private readonly ds: DataSource) {}

  /** The database's clock now (UTC text, microseconds), and whether `at` is after it. */
  async checkAt(at: string): Promise<{ now: string; future: boolean }> {
    const [r] = await this.ds.query(AT_CHECK_SQL, [at]);
    return r;
  }

  /** The first UTC day whose audit rows are all kept (YYYY-MM-DD), or null when no day partition exists. */
  async keptSince(): Promise<string | null> {
    const [r]: { day: string | null }[] = await this.ds.query(AUDIT_KEPT_SINCE_SQL);
    return r?.day ?? null;
  }

  /** Per source: its latest change at or before `at`, and the counts its first change after `at` replaced. */
  async sourcesAt(key: UserKey, at: string): Promise<{ by: SourceAtRow[]; after: SourceAtRow[]; current: BadgeSourceRow[] }> {
    const params = [...keyParams(key), at];
    const [by, after, current] = await Promise.all([
      this.ds.query(SOURCES_CHANGED_BY_SQL, params),
      this.ds.query(SOURCES_CHANGED_AFTER_SQL, params),
      this.ds.query(ALL_SOURCES_SQL, keyParams(key)),
    ]);
    return { by, after, current };
  }

  async seriesWindow(minutes: number): Promise<{ fromMs: number; toMs: number }> {
    const [r] = await this.ds.query(SERIES_WINDOW_SQL, [minutes]);
    return { fromMs: r.from_ms, toMs: r.to_ms };
  }

  pushSeries(fromMs: number, toMs: number, tenants: readonly string[] | null = null): Promise<PushSeriesRow[]> {
    const range = [new Date(fromMs).toISOString(), new Date(toMs).toISOString()];
    return tenants === null ? this.ds.query(PUSH_SERIES_SQL, range) : this.ds.query(PUSH_SERIES_IN_TENANTS_SQL, [...range, tenants]);
  }
}
