import { BadgeEvent, storableText } from '@badges/contracts';
import { DataSource, EntityManager } from 'typeorm';
import { DIRTY_CHANNEL, dirtyPredicateOf } from './dirty-set';
import { lockInKeyOrder } from './key-order';
import { LANES } from './lanes';
import { type AuditKind, sqlKind, type UserIdType } from './vocabulary';

/**
 * Writers of one user take turns on its badge_state row: concurrent batches touching one user each recompute the
 * desired sum from what the other committed (no lost update). Row locks live in the rows, not in the server's
 * shared lock table, so a transaction may hold any number of them. Two statements, in key order, so no two writers
 * deadlock: first a row for each new user (dirty, at revision 1 with zero counts, in the batch's lane: a new user
 * whose events sum to zero is still pushed, clearing what an older integration may have left at Feishu), waiting
 * for any other writer's uncommitted insert of it; then, in a fresh snapshot that sees them all, the lock on every
 * row.
 */
export const INSERT_USERS_SQL = `
  INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_revision, status, lane)
  SELECT t.tenant_key, t.user_id_type, t.user_id, 1, 'pending', min(t.lane)
  FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[]) AS t(tenant_key, user_id_type, user_id, lane)
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (tenant_key, user_id_type, user_id) DO NOTHING
  RETURNING tenant_key, user_id_type, user_id`;

export const LOCK_USERS_SQL = `
  SELECT 1 FROM badge_state b
  JOIN (SELECT DISTINCT t.tenant_key COLLATE "C" AS tenant_key, t.user_id_type COLLATE "C" AS user_id_type, t.user_id COLLATE "C" AS user_id
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(tenant_key, user_id_type, user_id)) k
    ON (b.tenant_key, b.user_id_type, b.user_id) = (k.tenant_key, k.user_id_type, k.user_id)
  ${lockInKeyOrder('b')}`;

type KeyRow = { tenant_key: string; user_id_type: string; user_id: string };

/** One string per user (the key of sets and maps), from an event or from a row. */
export const userKey = (e: { tenantKey: string; userIdType: string; userId: string }): string => `${e.tenantKey}\u001f${e.userIdType}\u001f${e.userId}`;
export const rowKey = (r: KeyRow): string => userKey({ tenantKey: r.tenant_key, userIdType: r.user_id_type, userId: r.user_id });

/** The users' rows, created when new and locked in key order (INSERT_USERS_SQL, LOCK_USERS_SQL); the keys of the new ones. */
export async function lockUsers(query: (text: string, params: unknown[]) => Promise<unknown[]>, users: readonly { tenantKey: string; userIdType: string; userId: string; lane: number }[]): Promise<Set<string>> {
  const col = <T>(f: (u: (typeof users)[number]) => T) => users.map(f);
  const created = (await query(INSERT_USERS_SQL, [col((u) => u.tenantKey), col((u) => u.userIdType), col((u) => u.userId), col((u) => u.lane)])) as KeyRow[];
  await query(LOCK_USERS_SQL, [col((u) => u.tenantKey), col((u) => u.userIdType), col((u) => u.userId)]);
  return new Set(created.map(rowKey));
}

/** Upserts the newest event per source behind the sequence guard (old values read by index, per row) and records every event in the audit trail:
 * accepted ones as changes (old → new), the rest as stale. A new source of a user who already stores `cap` sources
 * (zero ones included, until the retention job drops them) is refused: not stored, audited as rejected with the
 * detail `capDetail`, and returned so the caller dead-letters it. The count is exact: the caller holds the user's lock.
 * Returns the users whose sources changed and the refused sources. */
export function upsertSourcesSql(o: { input: string; cap: string; capDetail: string; auditStale: boolean }): string {
  return `
  WITH input AS (
${o.input}
  ),
  old AS (
    SELECT o.* FROM input i
    CROSS JOIN LATERAL (
      SELECT s.* FROM badge_source s
      WHERE s.tenant_key = i.tenant_key AND s.user_id_type = i.user_id_type AND s.user_id = i.user_id AND s.source = i.source
      LIMIT 1 -- one row by primary key; also keeps the planner from turning this into a scan of the table
    ) o
    WHERE i.newest
  ),
  fresh AS (
    SELECT i.tenant_key, i.user_id_type, i.user_id, i.source,
           row_number() OVER (PARTITION BY i.tenant_key, i.user_id_type, i.user_id ORDER BY i.source) AS nth
    FROM input i
    WHERE i.newest AND NOT EXISTS (
      SELECT 1 FROM old o WHERE (o.tenant_key, o.user_id_type, o.user_id, o.source) = (i.tenant_key, i.user_id_type, i.user_id, i.source))
  ),
  stored AS (
    SELECT u.tenant_key, u.user_id_type, u.user_id, n.stored
    FROM (SELECT DISTINCT tenant_key, user_id_type, user_id FROM fresh) u
    CROSS JOIN LATERAL (
      SELECT count(*) AS stored FROM badge_source s
      WHERE s.tenant_key = u.tenant_key AND s.user_id_type = u.user_id_type AND s.user_id = u.user_id
    ) n
  ),
  refused AS (
    SELECT f.tenant_key, f.user_id_type, f.user_id, f.source
    FROM fresh f JOIN stored c ON (c.tenant_key, c.user_id_type, c.user_id) = (f.tenant_key, f.user_id_type, f.user_id)
    WHERE c.stored + f.nth > ${o.cap}::int
  ),
  up AS (
    INSERT INTO badge_source AS s (tenant_key, user_id_type, user_id, source, sequence, event_id,
                                   pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at)
    SELECT i.tenant_key, i.user_id_type, i.user_id, i.source, i.sequence, i.event_id,
           i.pc_web_app, i.pc_gadget, i.mobile_web_app, i.mobile_gadget, i.occurred_at
    FROM input i
    WHERE i.newest AND NOT EXISTS (
      SELECT 1 FROM refused r WHERE (r.tenant_key, r.user_id_type, r.user_id, r.source) = (i.tenant_key, i.user_id_type, i.user_id, i.source))
    ORDER BY i.tenant_key, i.user_id_type, i.user_id, i.source
    ON CONFLICT (tenant_key, user_id_type, user_id, source) DO UPDATE SET
      sequence = excluded.sequence, event_id = excluded.event_id,
      pc_web_app = excluded.pc_web_app, pc_gadget = excluded.pc_gadget,
      mobile_web_app = excluded.mobile_web_app, mobile_gadget = excluded.mobile_gadget,
      occurred_at = excluded.occurred_at, updated_at = now()
    WHERE excluded.sequence > s.sequence
    RETURNING s.tenant_key, s.user_id_type, s.user_id, s.source
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, source, sequence, event_id,
                             old_counts, new_counts, detail)
    SELECT i.tenant_key, i.user_id_type, i.user_id,
           CASE WHEN u.source IS NOT NULL THEN ${sqlKind('change')} WHEN r.source IS NOT NULL THEN ${sqlKind('rejected')} ELSE ${sqlKind('stale')} END,
           i.source, i.sequence, i.event_id,
           CASE WHEN o.source IS NULL THEN NULL ELSE jsonb_build_object(
             'pc', jsonb_build_object('web_app', o.pc_web_app, 'gadget', o.pc_gadget),
             'mobile', jsonb_build_object('web_app', o.mobile_web_app, 'gadget', o.mobile_gadget)) END,
           jsonb_build_object(
             'pc', jsonb_build_object('web_app', i.pc_web_app, 'gadget', i.pc_gadget),
             'mobile', jsonb_build_object('web_app', i.mobile_web_app, 'gadget', i.mobile_gadget)),
           CASE WHEN u.source IS NOT NULL THEN NULL
                WHEN r.source IS NOT NULL THEN ${o.capDetail}::text
                WHEN NOT i.newest THEN 'superseded in its batch by a newer sequence'
                ELSE 'sequence ' || i.sequence || ' is not above the stored ' || o.sequence END
    FROM input i
    LEFT JOIN up u ON i.newest AND (u.tenant_key, u.user_id_type, u.user_id, u.source) = (i.tenant_key, i.user_id_type, i.user_id, i.source)
    LEFT JOIN old o ON i.newest AND (o.tenant_key, o.user_id_type, o.user_id, o.source) = (i.tenant_key, i.user_id_type, i.user_id, i.source)
    LEFT JOIN refused r ON i.newest AND (r.tenant_key, r.user_id_type, r.user_id, r.source) = (i.tenant_key, i.user_id_type, i.user_id, i.source)
    ${o.auditStale ? '' : 'WHERE u.source IS NOT NULL OR r.source IS NOT NULL'}
  )
  SELECT 'changed' AS outcome, tenant_key, user_id_type, user_id, NULL::text AS source, count(*)::int AS accepted
  FROM up GROUP BY 2, 3, 4
  UNION ALL
  SELECT 'refused', tenant_key, user_id_type, user_id, source, 0 FROM refused`;
}

export const UPSERT_SOURCES_SQL = upsertSourcesSql({
  input: `    SELECT t.tenant_key COLLATE "C" AS tenant_key, t.user_id_type COLLATE "C" AS user_id_type,
           t.user_id COLLATE "C" AS user_id, t.source COLLATE "C" AS source, t.sequence, t.event_id,
           t.pc_web_app, t.pc_gadget, t.mobile_web_app, t.mobile_gadget, t.occurred_at, t.newest
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                $7::int[], $8::int[], $9::int[], $10::int[], $11::timestamptz[], $12::bool[])
      AS t(tenant_key, user_id_type, user_id, source, sequence, event_id,
           pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at, newest)`,
  cap: '$13',
  capDetail: '$14',
  auditStale: true,
});

/** Recomputes the desired badge (sum over sources, capped at 2^31-1) of the given users, by index lookups per
 * user (LATERAL) so the cost follows the batch, not the table. The revision moves, and
 * the user becomes dirty, only when the sum changed; a parked user is un-parked by a change. */
export const RECOMPUTE_DESIRED_SQL = `
  WITH touched AS (
    SELECT t.tenant_key COLLATE "C" AS tenant_key, t.user_id_type COLLATE "C" AS user_id_type, t.user_id COLLATE "C" AS user_id,
           t.lane
    FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[]) AS t(tenant_key, user_id_type, user_id, lane)
  ),
  sums AS (
    SELECT t.tenant_key, t.user_id_type, t.user_id, t.lane, agg.*
    FROM touched t
    CROSS JOIN LATERAL (
      SELECT least(coalesce(sum(s.pc_web_app), 0), 2147483647)::int     AS pc_web_app,
             least(coalesce(sum(s.pc_gadget), 0), 2147483647)::int      AS pc_gadget,
             least(coalesce(sum(s.mobile_web_app), 0), 2147483647)::int AS mobile_web_app,
             least(coalesce(sum(s.mobile_gadget), 0), 2147483647)::int  AS mobile_gadget
      FROM badge_source s
      WHERE s.tenant_key = t.tenant_key AND s.user_id_type = t.user_id_type AND s.user_id = t.user_id
    ) agg
  )
  INSERT INTO badge_state AS b (tenant_key, user_id_type, user_id,
                                desired_pc_web_app, desired_pc_gadget, desired_mobile_web_app, desired_mobile_gadget,
                                desired_revision, desired_changed_at, next_attempt_at, status, lane)
  SELECT tenant_key, user_id_type, user_id, pc_web_app, pc_gadget, mobile_web_app, mobile_gadget,
         1, now(), now(), 'pending', lane
  FROM sums
  ORDER BY tenant_key, user_id_type, user_id
  ON CONFLICT (tenant_key, user_id_type, user_id) DO UPDATE SET
    desired_pc_web_app = excluded.desired_pc_web_app,
    desired_pc_gadget = excluded.desired_pc_gadget,
    desired_mobile_web_app = excluded.desired_mobile_web_app,
    desired_mobile_gadget = excluded.desired_mobile_gadget,
    desired_revision = b.desired_revision + 1,
    desired_changed_at = now(),
    status = CASE WHEN b.status IN ('in_sync', 'parked') THEN 'pending' ELSE b.status END,
    attempts = CASE WHEN b.status = 'parked' THEN 0 ELSE b.attempts END,
    next_attempt_at = CASE WHEN b.status = 'parked' THEN now() ELSE b.next_attempt_at END,
    -- Priority lanes: a user already dirty with live work stays live; otherwise the change's own lane.
    lane = CASE WHEN ${dirtyPredicateOf('b')} THEN least(b.lane, excluded.lane) ELSE excluded.lane END,
    updated_at = now()
  WHERE (b.desired_pc_web_app, b.desired_pc_gadget, b.desired_mobile_web_app, b.desired_mobile_gadget)
        IS DISTINCT FROM
        (excluded.desired_pc_web_app, excluded.desired_pc_gadget, excluded.desired_mobile_web_app, excluded.desired_mobile_gadget)
  RETURNING b.tenant_key, b.user_id_type, b.user_id`;

/** Refused messages whose user could be read, so the user's history shows them. */
export const AUDIT_REJECTED_SQL = `
  INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, event_id, source, detail)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])`;

export interface RejectedEvent {
  tenantKey: string;
  userIdType: string;
  userId: string;
  eventId: string | null;
  source: string | null;
  reason: string;
}

export const NOTIFY_DIRTY_SQL = `SELECT pg_notify('${DIRTY_CHANNEL}', $1)`;

/** Retiring a source: the next users holding it (of one tenant when $2 is set), by the badge_source_by_source index. */
export const PICK_RETIRED_SQL = `
  SELECT tenant_key, user_id_type, user_id FROM badge_source
  WHERE source = $1 AND ($2::text IS NULL OR tenant_key = $2)
  ORDER BY source, tenant_key, user_id_type, user_id
  LIMIT $3`;

/**
 * Removes source $4 from the given users (their locks held, as ingest takes them) and records, per user, a change
 * of that source to nothing with who retired it: the history and the badge-at-a-moment both read it.
 */
export const RETIRE_SOURCE_SQL = `
  WITH gone AS (
    DELETE FROM badge_source s
    USING unnest($1::text[], $2::text[], $3::text[]) AS t(tenant_key, user_id_type, user_id)
    WHERE (s.tenant_key, s.user_id_type, s.user_id) = (t.tenant_key, t.user_id_type, t.user_id) AND s.source = $4
    RETURNING s.*
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, source, sequence, event_id, old_counts, new_counts, detail)
    SELECT tenant_key, user_id_type, user_id, ${sqlKind('change')}, source, sequence, event_id,
           jsonb_build_object('pc', jsonb_build_object('web_app', pc_web_app, 'gadget', pc_gadget),
                              'mobile', jsonb_build_object('web_app', mobile_web_app, 'gadget', mobile_gadget)),
           '{"pc":{"web_app":0,"gadget":0},"mobile":{"web_app":0,"gadget":0}}'::jsonb,
           $5::text
    FROM gone
  )
  SELECT tenant_key, user_id_type, user_id FROM gone`;

/** A new source refused because its user already stores the maximum number of sources. */
export interface RefusedSource {
  tenantKey: string;
  userIdType: UserIdType;
  userId: string;
  source: string;
}

export interface IngestOutcome {
  accepted: number;
  stale: number;
  usersChanged: number;
  /** Not stored; the caller dead-letters them (with sourceCapRule as the reason). */
  refused: RefusedSource[];
}

export const DEFAULT_MAX_SOURCES_PER_USER = 64;

/** The DLQ rule for a refused new source; field `source`. */
export const sourceCapRule = (max: number) => `user already has ${max} sources (INGEST_MAX_SOURCES_PER_USER)`;

/** All-zero sources not updated for `$1` ms (database clock), at most `$2` of them, through badge_source_zero. The
 * zero and age conditions are repeated on the target: should ingest change a row meanwhile, the re-check skips it.
 * A zero source adds nothing to the desired sum, so no badge changes. */
export const DROP_ZERO_SOURCES_SQL = `
  DELETE FROM badge_source s
  USING (
    SELECT tenant_key, user_id_type, user_id, source FROM badge_source
    WHERE pc_web_app = 0 AND pc_gadget = 0 AND mobile_web_app = 0 AND mobile_gadget = 0
      AND updated_at < now() - $1::bigint * interval '1 millisecond'
    LIMIT $2
  ) z
  WHERE (s.tenant_key, s.user_id_type, s.user_id, s.source) = (z.tenant_key, z.user_id_type, z.user_id, z.source)
    AND s.pc_web_app = 0 AND s.pc_gadget = 0 AND s.mobile_web_app = 0 AND s.mobile_gadget = 0
    AND s.updated_at < now() - $1::bigint * interval '1 millisecond'`;

export interface IngestRepositoryOptions {
  maxSourcesPerUser: number;
}

/** Deadlock, serialization failure, and the shared lock table full (53200): a transaction of its own again. */
const RETRYABLE = new Set(['40P01', '40001', '53200']);

/**
 * Users per transaction: a bound on how long one transaction holds its users' rows. (Their locks are row locks,
 * LOCK_USERS_SQL; advisory locks, one per user, filled the server's shared lock table — "out of shared memory" —
 * with three concurrent transactions of 5,000 distinct users.)
 */
export const MAX_USERS_PER_TRANSACTION = 5000;

/** Whether a failed transaction may simply be run again (see RETRYABLE). */
export const isRetryable = (e: unknown): boolean => RETRYABLE.has((e as { code?: string } | null)?.code ?? '');

/** Splits items into groups of at most `max` users (by `keyOf`), each user's items in one group. */
export function groupByUsers<T>(items: readonly T[], keyOf: (item: T) => string, max: number): T[][] {
  const slot = new Map<string, number>();
  const groups: T[][] = [];
  for (const item of items) {
    const k = keyOf(item);
    let g = slot.get(k);
    if (g === undefined) {
      g = groups.length === 0 || slot.size >= groups.length * max ? groups.push([]) - 1 : groups.length - 1;
      slot.set(k, g);
    }
    groups[g].push(item);
  }
  return groups;
}

export class IngestRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly options: IngestRepositoryOptions = { maxSourcesPerUser: DEFAULT_MAX_SOURCES_PER_USER },
  ) {}

  /**
   * Applies one batch in one transaction. `newest` must hold at most one event per source (see
   * newestPerSource); `superseded` are recorded as stale. Safe to replay: replays are stale.
   */
  async applyBatch(
    newest: readonly BadgeEvent[],
    superseded: readonly BadgeEvent[],
    rejected: readonly RejectedEvent[] = [],
  ): Promise<IngestOutcome> {
    if (newest.length === 0 && superseded.length === 0 && rejected.length === 0) return { accepted: 0, stale: 0, usersChanged: 0, refused: [] };
    // At most MAX_USERS_PER_TRANSACTION users a transaction. The caller commits its offsets after all of them, and
    // applying is idempotent (a replay is stale), so a crash between two of them loses nothing.
    const tagged = [...newest.map((e) => ({ e, newest: true })), ...superseded.map((e) => ({ e, newest: false }))];
    const groups = groupByUsers(tagged, (t) => userKey(t.e), MAX_USERS_PER_TRANSACTION);
    if (groups.length === 0) groups.push([]);
    const total: IngestOutcome = { accepted: 0, stale: 0, usersChanged: 0, refused: [] };
    for (const [i, group] of groups.entries()) {
      const r = await this.applyGroup(
        group.filter((t) => t.newest).map((t) => t.e),
        group.filter((t) => !t.newest).map((t) => t.e),
        i === 0 ? rejected : [],
      );
      total.accepted += r.accepted;
      total.stale += r.stale;
      total.usersChanged += r.usersChanged;
      total.refused.push(...r.refused);
    }
    return total;
  }

  private async applyGroup(newest: readonly BadgeEvent[], superseded: readonly BadgeEvent[], rejected: readonly RejectedEvent[]): Promise<IngestOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ds.transaction(async (m) => {
          if (rejected.length > 0) {
            const col = <T>(f: (r: RejectedEvent) => T) => rejected.map(f);
            await m.query(AUDIT_REJECTED_SQL, [
              col((r) => r.tenantKey),
              col((r) => r.userIdType),
              col((r) => r.userId),
              col((): AuditKind => 'rejected'),
              col((r) => r.eventId),
              col((r) => r.source),
              col((r) => storableText(r.reason)),
            ]);
          }
          return this.apply(m, newest, superseded);
        });
      } catch (e) {
        if (attempt >= 5 || !isRetryable(e)) throw e;
      }
    }
  }

  private async apply(m: EntityManager, newest: readonly BadgeEvent[], superseded: readonly BadgeEvent[]): Promise<IngestOutcome> {
    if (newest.length === 0 && superseded.length === 0) return { accepted: 0, stale: 0, usersChanged: 0, refused: [] };
    const all = [...newest, ...superseded];
    const created = await lockUsers((t, p) => m.query(t, p), newest.map((e) => ({ tenantKey: e.tenantKey, userIdType: e.userIdType, userId: e.userId, lane: e.bulk ? LANES.bulk : LANES.live })));
    const cols: unknown[][] = Array.from({ length: 12 }, () => new Array(all.length));
    all.forEach((e, i) => {
      cols[0][i] = e.tenantKey;
      cols[1][i] = e.userIdType;
      cols[2][i] = e.userId;
      cols[3][i] = e.source;
      cols[4][i] = e.sequence;
      cols[5][i] = e.eventId;
      cols[6][i] = e.counts.pc.web_app;
      cols[7][i] = e.counts.pc.gadget;
      cols[8][i] = e.counts.mobile.web_app;
      cols[9][i] = e.counts.mobile.gadget;
      cols[10][i] = e.occurredAt.toISOString();
      cols[11][i] = i < newest.length;
    });
    const max = this.options.maxSourcesPerUser;
    const rows: UpsertRow[] = await m.query(UPSERT_SOURCES_SQL, [...cols, max, `rejected to the dead-letter topic: source: ${sourceCapRule(max)}`]);
    const changed = rows.filter((r) => r.outcome === 'changed');
    const refused = rows
      .filter((r) => r.outcome === 'refused')
      .map((r) => ({ tenantKey: r.tenant_key, userIdType: r.user_id_type, userId: r.user_id, source: r.source! }));
    let usersChanged = 0;
    if (changed.length > 0) {
      // A user's change is live if any of its events in the batch is (bulk only when all are).
      const live = new Set(newest.filter((e) => !e.bulk).map(userKey));
      const rows = await m.query(RECOMPUTE_DESIRED_SQL, [
        changed.map((r) => r.tenant_key),
        changed.map((r) => r.user_id_type),
        changed.map((r) => r.user_id),
        changed.map((r) => (live.has(rowKey(r)) ? LANES.live : LANES.bulk)),
      ]);
      for (const r of rows as KeyRow[]) created.add(rowKey(r));
    }
    // New users are dirty from their first row on, even when their counts sum to zero (nothing to recompute then).
    usersChanged = created.size;
    if (usersChanged > 0) await m.query(NOTIFY_DIRTY_SQL, [String(usersChanged)]);
    const accepted = changed.reduce((n, r) => n + r.accepted, 0);
    return { accepted, stale: all.length - accepted - refused.length, usersChanged, refused };
  }

  /**
   * Retires `source` from every user holding it (of `tenantKey` only, when given): each user's share of it is
   * removed, the desired badge recomputed, and the users whose badge changed are pushed at bulk priority. In
   * batches of `batch` users (MAX_USERS_PER_TRANSACTION), each its own transaction under the users' ingest locks, so it never races an event
   * for the same user; an interrupted call is resumed by calling it again. Returns the users it was removed from.
   */
  async retireSource(source: string, tenantKey: string | null, detail: string, batch = MAX_USERS_PER_TRANSACTION): Promise<{ users: number; usersChanged: number }> {
    let users = 0;
    let usersChanged = 0;
    for (;;) {
      const n = await this.ds.transaction(async (m) => {
        const picked: { tenant_key: string; user_id_type: string; user_id: string }[] = await m.query(PICK_RETIRED_SQL, [source, tenantKey, batch]);
        if (picked.length === 0) return 0;
        await lockUsers((t, p) => m.query(t, p), picked.map((r) => ({ tenantKey: r.tenant_key, userIdType: r.user_id_type, userId: r.user_id, lane: LANES.bulk })));
        const col = (f: (r: (typeof picked)[number]) => string) => picked.map(f);
        const gone: typeof picked = await m.query(RETIRE_SOURCE_SQL, [col((r) => r.tenant_key), col((r) => r.user_id_type), col((r) => r.user_id), source, storableText(detail)]);
        if (gone.length > 0) {
          const changed = await m.query(RECOMPUTE_DESIRED_SQL, [
            gone.map((r) => r.tenant_key),
            gone.map((r) => r.user_id_type),
            gone.map((r) => r.user_id),
            gone.map(() => LANES.bulk),
          ]);
          usersChanged += changed.length;
          if (changed.length > 0) await m.query(NOTIFY_DIRTY_SQL, [String(changed.length)]);
        }
        users += gone.length;
        return picked.length;
      });
      if (n < batch) return { users, usersChanged };
    }
  }

  /** Drops up to `limit` sources that have been all zeros for `retentionMs`; returns how many. */
  async dropZeroSources(retentionMs: number, limit: number): Promise<number> {
    const [, count]: [unknown, number] = await this.ds.query(DROP_ZERO_SOURCES_SQL, [retentionMs, limit]);
    return count;
  }
}

interface UpsertRow {
  outcome: 'changed' | 'refused';
  tenant_key: string;
  user_id_type: UserIdType;
  user_id: string;
  source: string | null;
  accepted: number;
}
