import type { BadgeCountColumns } from './badge-state.columns';
import { Counts, storableText } from '@badges/contracts';
import { LANES } from './lanes';
import { DataSource } from 'typeorm';
import { queryNamed, type NamedStatement } from './named-statement';
import { DIRTY_PREDICATE } from './dirty-set';
import { lockInKeyOrder } from './key-order';
import { type BadgeStatus, sqlKind, type UserIdType } from './vocabulary';

/** A claimed user: its lease, the version allocated for this push, and what the diff needs. */
export interface ClaimedUser {
  tenantKey: string;
  userIdType: UserIdType;
  userId: string;
  version: string;
  revision: string;
  desired: Counts;
  applied: { pc: Counts['pc'] | null; mobile: Counts['mobile'] | null };
  forceFull: boolean;
  attempts: number;
  desiredChangedAt: Date;
  leaseTakenOver: boolean;
}

export interface Claim {
  users: ClaimedUser[];
  /** When the first reserved push may be sent (the caller's clock); the rest follow every `spacingMs`. */
  firstSlotAt: number;
  /** The grid's spacing for these slots: SlotGrid's sole or shared spacing. */
  spacingMs: number;
  /** Whether another owner has pushed on this budget lately (SlotGrid.shared): slots are spaced for sharing. */
  shared: boolean;
  /** When nothing could be claimed because the budget is spent or paused: when to try again (the caller's clock). */
  budgetFreeAt: number | null;
  /** The database's clock minus the caller's, as measured by this claim: slots are in the database's time. */
  clockOffsetMs: number;
  /** The round trip that measurement took: the offset is right to within half of it. */
  clockRttMs: number;
  /** firstSlotAt and budgetFreeAt in the database's clock, for a caller that keeps a better offset of its own. */
  db: { firstSlotAt: number; budgetFreeAt: number | null };
}

/** The caller's clock (a replica's Date.now()); the database's clock is what every stored time is in. */
export type LocalClock = () => number;

export type CompletionKind = 'applied' | 'noop' | 'retry' | 'park';

/** What one push attempt does to its user's row; written only if the lease still holds (fencing). */
export interface Completion {
  tenantKey: string;
  userIdType: string;
  userId: string;
  version: string;
  kind: CompletionKind;
  sent: { pc?: Counts['pc']; mobile?: Counts['mobile'] } | null;
  /** Sides whose state at Feishu is no longer known (an answer that may have been applied, a conflict). */
  forgetPc: boolean;
  forgetMobile: boolean;
  delayMs: number;
  /** For retry: 'pending' (not the user's fault) or 'backing_off'. */
  status: BadgeStatus;
  attempts: number;
  /** Feishu said its version is at least this: allocate above it next time. */
  minVersion: string | null;
  outcome: string;
  code: number | null;
  httpStatus: number | null;
  message: string | null;
  logId: string | null;
  latencyMs: number | null;
}

/** Feishu's versions are 64-bit; a user whose last version is this can never be pushed again. */
export const MAX_VERSION_SQL = '9223372036854775807';

/**
 * How a budget's push slots are spaced. While one owner pushes on it, every `spacingMs`: that owner's SendWindow
 * keeps the count per window at Feishu, whatever the delays, and it may send late (SlotRun). Once another owner's
 * slots reach within `shared.memoryMs` of now, the budget is shared: every `shared.spacingMs` (only the spacing keeps
 * the count then), until `memoryMs` after the other owner's last slot. No other owner's slot comes sooner than
 * `shared.joinGapMs` after the last slot an owner reserved alone (those may be sent late, bunched).
 *
 * An owner held back by that gap, with work due, marks the budget shared (so the one pushing alone stops extending
 * its run) only if slots of a running grid went unused within `memoryMs`: a claim found its first slot a spacing or
 * more past the grid's next one, that one no more than `shared.unusedWithinMs` old (a grid idle for longer had no
 * work, not too little capacity). A replica that keeps up alone, however far ahead it reserves, keeps the tight grid;
 * the others stand by. Without `shared`, one spacing for everyone, no gap.
 */
export interface SlotGrid {
  spacingMs: number;
  shared?: { spacingMs: number; joinGapMs: number; memoryMs: number; unusedWithinMs: number };
}

const gridParams = (grid: SlotGrid) => [grid.shared?.spacingMs ?? grid.spacingMs, grid.shared?.joinGapMs ?? 0, grid.shared?.memoryMs ?? 0, grid.shared?.unusedWithinMs ?? 0];

/**
 * The slot grid at a locked budget row (SlotGrid): `locked` yields its columns, the clock is read here, after the
 * lock was taken. Parameters: the owner, the lead (ms), the sole spacing, then SlotGrid.shared's spacing, join gap,
 * memory and unused-within (gridParams). Adds now_ms, next_ms, other_recent (another owner's slots reach within the
 * memory of now), shared, spacing_ms, free_ms (the first slot free of the grid: the next slot, the lead, a pause),
 * start_ms (the first slot this owner may have), held_back (start_ms is the join gap's, later than free_ms),
 * unused (free_ms leaves a spacing or more of a grid that ran until recently unused) and unused_recent (such a claim
 * was made within the memory).
 */
const gridAt = (locked: string, p: { owner: string; lead: string; sole: string; shared: string; gap: string; memory: string; unusedWithin: string }) => `
  SELECT g.*, greatest(g.free_ms, g.join_ms) AS start_ms, g.join_ms > g.free_ms AS held_back,
         g.free_ms - greatest(g.next_ms, g.paused_ms) >= g.spacing_ms AND g.next_ms > g.now_ms - ${p.unusedWithin}::float8 AS unused,
         g.unused_ms > g.now_ms - ${p.memory}::float8 AS unused_recent
  FROM (SELECT t.*, greatest(t.next_ms, t.now_ms + ${p.lead}::float8, t.paused_ms) AS free_ms,
               CASE WHEN t.alone_owner IS DISTINCT FROM ${p.owner}::text THEN t.alone_ms + ${p.gap}::float8 ELSE '-infinity'::float8 END AS join_ms,
               t.other_recent OR t.shared_ms > t.now_ms AS shared,
               CASE WHEN t.other_recent OR t.shared_ms > t.now_ms THEN ${p.shared}::float8 ELSE ${p.sole}::float8 END AS spacing_ms
        FROM (SELECT u.*, u.last_owner IS NOT NULL AND u.last_owner <> ${p.owner}::text AND u.next_ms > u.now_ms - ${p.memory}::float8 AS other_recent
              FROM (SELECT l.*, (extract(epoch FROM l.next_slot_at) * 1000)::float8 AS next_ms,
                           (extract(epoch FROM l.paused_until) * 1000)::float8 AS paused_ms,
                           (extract(epoch FROM l.shared_until) * 1000)::float8 AS shared_ms,
                           (extract(epoch FROM l.alone_until) * 1000)::float8 AS alone_ms,
                           (extract(epoch FROM l.unused_at) * 1000)::float8 AS unused_ms,
                           (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms
                    FROM ${locked} l) u) t) g`;

/**
 * SET items for the budget row `row` once `grid` (a gridAt row) reserved slots for `owner` up to `nextMs`: the
 * next slot, the owner of the last, the shared state, where the slots reserved alone end, and when slots last went
 * unused.
 */
const gridAdvance = (row: string, grid: string, owner: string, memory: string, nextMs: string) => `next_slot_at = to_timestamp((${nextMs}) / 1000),
      last_owner = ${owner}::text,
      shared_until = CASE WHEN ${grid}.other_recent THEN greatest(${row}.shared_until, to_timestamp((${grid}.next_ms + ${memory}::float8) / 1000))
                          ELSE ${row}.shared_until END,
      alone_owner = CASE WHEN ${grid}.shared THEN ${row}.alone_owner ELSE ${owner}::text END,
      alone_until = CASE WHEN ${grid}.shared THEN ${row}.alone_until ELSE to_timestamp((${nextMs}) / 1000) END,
      unused_at = CASE WHEN ${grid}.unused THEN to_timestamp(${grid}.now_ms / 1000) ELSE ${row}.unused_at END`;

export const ENSURE_BUDGET_SQL = `INSERT INTO push_budget (scope) VALUES ($1) ON CONFLICT (scope) DO NOTHING`;

/**
 * Users of one lane that a claim may take: due, dirty, unleased (or the lease lapsed), oldest due first. `limit` is
 * a scalar subquery; null (no budget row) counts as none, never as LIMIT ALL.
 */
const dueInLane = (lane: number, limit: string) => `
    SELECT tenant_key, user_id_type, user_id, lease_owner AS previous_owner, lease_version AS previous_version,
           last_version >= ${MAX_VERSION_SQL} AS exhausted, ${lane} AS lane_rank, next_attempt_at AS due_at
    FROM badge_state
    WHERE ${DIRTY_PREDICATE} AND next_attempt_at <= clock_timestamp()
      AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
      AND ($4::text IS NULL OR tenant_key = $4)
      AND lane = ${lane}
    ORDER BY next_attempt_at
    LIMIT coalesce((${limit}), 0)
    FOR UPDATE SKIP LOCKED`;

/**
 * One claim, in one statement (one round trip, no transaction around it; the claim loop is sequential, so its
 * round trips were what bounded a replica's pushes per second):
 *
 * 1. Lock the scope's push budget ($1) and reserve slots from greatest(next slot, now + lead $6, pause end), one
 *    every $7 ms (the grid's sole spacing; while the budget is shared, $12; never sooner than the join gap $13
 *    after the slots another owner reserved alone; memory $14, unused-within $15: SlotGrid, gridAt), at most what fits before
 *    now + horizon $9 and at most $8 (`want`). The clock is read once the row
 *    is locked, so a wait for another replica's claim does not leave the slots in the past. A replica claims only
 *    in the database's mode (service_mode, $5): one started in the other mode claims nothing (`want` 0). The mode is
 *    read from its row, locked with the budget's: a switch of mode committed while this claim waited for the budget
 *    row is what it sees (the statement's snapshot, taken before the wait, is not).
 * 2. Claim up to `want` due users of the live lane, oldest due first, skipping rows other replicas hold and rows
 *    whose lease is still live (an operator's resync makes a leased user due, but never takes it from its holder).
 * 3. Bulk work then takes what is left of the shorter bulk horizon $10, and only once at least $11 ms of its slots
 *    are free (null: one slot), so a live change never waits behind more than that much bulk work.
 * 4. Advance the budget by the users actually claimed, and record this owner and the shared state (gridAdvance);
 *    or, held back by the join gap behind an owner that leaves slots unused, with work due, mark the budget shared
 *    (join_intent).
 *
 * Each claimed user gets the lease (owner $2, expiry $3 ms, also the next attempt time so an abandoned lease comes
 * due by itself) and the version, greatest(last + 1, epoch ms): strictly increasing per user, 13 digits like
 * Feishu's examples. A lease taken over means its holder died or lost it mid-push: what it sent may have been
 * applied without being recorded, so both sides become unknown and the next push sends them (Feishu has no read
 * API to check). A user whose last version is the 64-bit maximum cannot be pushed: it is parked with the reason,
 * not claimed.
 *
 * One row per claimed user, live lane first and oldest due first within a lane (they get the earlier slots), each
 * with the budget's figures; one row of figures alone (user columns null) when no one was claimed; no row, and no
 * one claimed, when the scope has no budget. received_ms (when the statement arrived) and end_ms (the database's
 * clock at the row) let the caller take the statement's own time, a wait for the budget row included, out of the
 * round trip it measures the clocks' offset with.
 */
export const CLAIM_SQL = `
  WITH budget AS (
    SELECT b.next_slot_at, b.paused_until, b.last_owner, b.shared_until, b.alone_owner, b.alone_until, b.unused_at, m.mode = $5::text AS in_mode
    FROM push_budget b, service_mode m WHERE b.scope = $1 AND m.id = 1
    -- FOR SHARE, not KEY SHARE: a key-share lock takes the row version in the snapshot even when a committed
    -- switch has updated it since (its mode column is not a key), and the claim would keep the old mode.
    FOR UPDATE OF b FOR SHARE OF m
  ),
  plan AS (
    SELECT c.start_ms, c.now_ms, c.next_ms, c.spacing_ms, c.shared, c.other_recent, c.unused, c.in_mode,
           (extract(epoch FROM statement_timestamp()) * 1000)::float8 AS received_ms,
           CASE WHEN c.in_mode THEN greatest(0, least($8::int, floor((c.now_ms + $9::float8 - c.start_ms) / c.spacing_ms)))::int
                ELSE 0 END AS want,
           -- Held back by the join gap while slots of the grid went unused lately: the owner pushing alone does not
           -- keep up by itself.
           c.in_mode AND c.held_back AND c.unused_recent AS join_wanted
    FROM (${gridAt('budget', { owner: '$2', lead: '$6', sole: '$7', shared: '$12', gap: '$13', memory: '$14', unusedWithin: '$15' })}) c
  ),
  due_live AS (${dueInLane(LANES.live, 'SELECT want FROM plan')}
  ),
  bulk AS (
    SELECT l.live,
           greatest(0, least($8::int - l.live, floor((p.now_ms + $10::float8 - (p.start_ms + l.live * p.spacing_ms)) / p.spacing_ms)))::int AS slots,
           greatest(1, least($8::int - l.live, coalesce(floor($11::float8 / p.spacing_ms)::int, 1)))::int AS min_slots
    FROM plan p, (SELECT count(*)::int AS live FROM due_live WHERE NOT exhausted) l
  ),
  due_bulk AS (${dueInLane(LANES.bulk, 'SELECT CASE WHEN want > 0 AND slots >= min_slots THEN slots ELSE 0 END FROM plan, bulk')}
  ),
  due AS (SELECT * FROM due_live UNION ALL SELECT * FROM due_bulk),
  parked AS (
    UPDATE badge_state b SET
      status = 'parked',
      applied_pc_web_app = CASE WHEN due.previous_owner IS NULL THEN b.applied_pc_web_app END,
      applied_pc_gadget = CASE WHEN due.previous_owner IS NULL THEN b.applied_pc_gadget END,
      applied_mobile_web_app = CASE WHEN due.previous_owner IS NULL THEN b.applied_mobile_web_app END,
      applied_mobile_gadget = CASE WHEN due.previous_owner IS NULL THEN b.applied_mobile_gadget END,
      lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, lease_revision = NULL,
      last_error_code = NULL, last_error_log_id = NULL, last_error_at = now(),
      last_error_message = 'Feishu holds version ${MAX_VERSION_SQL} (the 64-bit maximum) for this user: no higher version exists, so nothing more can be pushed',
      updated_at = now()
    FROM due
    WHERE due.exhausted AND (b.tenant_key, b.user_id_type, b.user_id) = (due.tenant_key, due.user_id_type, due.user_id)
    RETURNING b.user_id
  ),
  claimed AS (
    UPDATE badge_state b SET
      lease_owner = $2,
      lease_expires_at = clock_timestamp() + $3 * interval '1 millisecond',
      next_attempt_at = clock_timestamp() + $3 * interval '1 millisecond',
      last_version = greatest(b.last_version + 1, (extract(epoch FROM now()) * 1000)::bigint),
      lease_version = greatest(b.last_version + 1, (extract(epoch FROM now()) * 1000)::bigint),
      lease_revision = b.desired_revision,
      applied_pc_web_app = CASE WHEN due.previous_owner IS NULL THEN b.applied_pc_web_app END,
      applied_pc_gadget = CASE WHEN due.previous_owner IS NULL THEN b.applied_pc_gadget END,
      applied_mobile_web_app = CASE WHEN due.previous_owner IS NULL THEN b.applied_mobile_web_app END,
      applied_mobile_gadget = CASE WHEN due.previous_owner IS NULL THEN b.applied_mobile_gadget END,
      updated_at = now()
    FROM due
    WHERE NOT due.exhausted AND (b.tenant_key, b.user_id_type, b.user_id) = (due.tenant_key, due.user_id_type, due.user_id)
    RETURNING b.tenant_key, b.user_id_type, b.user_id, b.lease_version::text AS version,
              b.lease_revision::text AS revision,
              b.desired_pc_web_app, b.desired_pc_gadget, b.desired_mobile_web_app, b.desired_mobile_gadget,
              b.applied_pc_web_app, b.applied_pc_gadget, b.applied_mobile_web_app, b.applied_mobile_gadget,
              b.force_full, b.attempts, b.desired_changed_at, due.previous_owner IS NOT NULL AS lease_taken_over,
              due.lane_rank, due.due_at
  ),
  -- The attempt of a holder that died or stalled has no audit row of its own: this one says what is known of it.
  lost AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, version, outcome, detail)
    SELECT tenant_key, user_id_type, user_id, ${sqlKind('push')}, previous_version, 'unknown',
           'lease of ' || previous_owner || ' expired before its result was recorded: the push may have been applied, so both sides are unknown and sent again'
    FROM due WHERE previous_owner IS NOT NULL
  ),
  advance AS (
    UPDATE push_budget b SET ${gridAdvance('b', 'p', '$2', '$14', 'p.start_ms + n.claimed * p.spacing_ms')}
    FROM plan p, (SELECT count(*)::int AS claimed FROM claimed) n
    WHERE b.scope = $1 AND n.claimed > 0
  ),
  -- Held back by the join gap while the owner pushing alone leaves slots unused, with work due that no one holds:
  -- the budget is shared from now on, so that owner stops extending its run of slots and this one gets slots after
  -- the gap. An owner with nothing to push, or held back behind one that keeps up, changes nothing. (The locking
  -- read sees the latest rows, not the statement's snapshot: users another claim took while this one waited for
  -- the budget row are not due.)
  join_intent AS (
    UPDATE push_budget b SET shared_until = greatest(b.shared_until, to_timestamp((p.now_ms + $14::float8) / 1000))
    FROM plan p
    WHERE b.scope = $1 AND p.join_wanted AND p.want = 0 AND EXISTS (
      SELECT 1 FROM badge_state
      WHERE ${DIRTY_PREDICATE} AND next_attempt_at <= clock_timestamp() AND ($4::text IS NULL OR tenant_key = $4)
        AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
      LIMIT 1 FOR KEY SHARE SKIP LOCKED
    )
  )
  SELECT p.start_ms, p.received_ms, p.in_mode, p.want, p.spacing_ms, p.shared, b.live, b.min_slots,
         -- Bulk work due but held back for slots (nothing else claimed): the caller sleeps until they are free.
         CASE WHEN p.want > 0 AND b.live = 0 AND b.slots < b.min_slots THEN EXISTS (
           SELECT 1 FROM badge_state
           WHERE ${DIRTY_PREDICATE} AND lane = ${LANES.bulk}
             AND next_attempt_at <= clock_timestamp() AND ($4::text IS NULL OR tenant_key = $4)
         ) ELSE false END AS bulk_due,
         c.*, (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS end_ms
  FROM plan p CROSS JOIN bulk b LEFT JOIN claimed c ON true
  ORDER BY c.lane_rank, c.due_at`;

/**
 * Tenants with due work, for store apps whose quota is per tenant: a loose index scan over the dirty users'
 * (tenant, due time) index, one descent per tenant with dirty users, so a tenant with a backlog of any size costs
 * one step and never hides the others. At most $1 tenants, starting after $2 (round robin across ticks).
 */
export const DUE_SCOPES_SQL = `
  WITH RECURSIVE tenants AS (
    (SELECT tenant_key FROM badge_state
     WHERE ${DIRTY_PREDICATE} AND ($2::text IS NULL OR tenant_key > $2)
     ORDER BY tenant_key LIMIT 1)
    UNION ALL
    SELECT (SELECT b.tenant_key FROM badge_state b
            WHERE ${DIRTY_PREDICATE} AND b.tenant_key > t.tenant_key
            ORDER BY b.tenant_key LIMIT 1)
    FROM tenants t WHERE t.tenant_key IS NOT NULL
  )
  SELECT t.tenant_key FROM tenants t
  WHERE t.tenant_key IS NOT NULL
    AND (SELECT min(b.next_attempt_at) FROM badge_state b
         WHERE b.tenant_key = t.tenant_key AND ${DIRTY_PREDICATE})
        <= clock_timestamp()
  LIMIT $1`;

export const EARLIEST_DUE_SQL = `
  SELECT (extract(epoch FROM min(next_attempt_at)) * 1000)::float8 AS at_ms
  FROM badge_state WHERE ${DIRTY_PREDICATE}`;

export const DIRTY_SUMMARY_SQL = `
  SELECT count(*)::int AS dirty, (extract(epoch FROM min(desired_changed_at)) * 1000)::float8 AS oldest_ms
  FROM badge_state WHERE ${DIRTY_PREDICATE}`;

const RESYNCED_DURING_PUSH = `(b.force_full AND b.desired_revision <> b.lease_revision AND b.attempts = 0)`;

/** Fenced completion of a batch of attempts, and their audit rows, in one statement. */
export const COMPLETE_SQL = `
  WITH d AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                         $6::jsonb[], $7::bool[], $8::bool[], $9::int[], $10::text[], $11::int[], $12::numeric[],
                         $13::text[], $14::int[], $15::int[], $16::text[], $17::text[], $18::int[])
      AS t(tenant_key, user_id_type, user_id, version, kind, sent, forget_pc, forget_mobile, delay_ms, status,
           attempts, min_version, outcome, code, http_status, message, log_id, latency_ms)
  ),
  -- The users' rows locked in key order (lockInKeyOrder): an update alone locks in whatever order its join yields
  -- rows, and two writers locking in two orders deadlock. Read before the update: when Feishu last accepted a
  -- push of this user.
  prev AS (
    SELECT b.tenant_key, b.user_id_type, b.user_id, b.applied_at FROM badge_state b JOIN d USING (tenant_key, user_id_type, user_id)
    ${lockInKeyOrder('b')}
  ),
  upd AS (
    UPDATE badge_state b SET
      pushed_revision = CASE WHEN d.kind IN ('applied', 'noop') THEN b.lease_revision ELSE b.pushed_revision END,
      applied_pc_web_app = CASE WHEN d.kind = 'applied' AND d.sent ? 'pc' THEN (d.sent #>> '{pc,web_app}')::int
                                WHEN d.forget_pc THEN NULL ELSE b.applied_pc_web_app END,
      applied_pc_gadget = CASE WHEN d.kind = 'applied' AND d.sent ? 'pc' THEN (d.sent #>> '{pc,gadget}')::int
                               WHEN d.forget_pc THEN NULL ELSE b.applied_pc_gadget END,
      applied_mobile_web_app = CASE WHEN d.kind = 'applied' AND d.sent ? 'mobile' THEN (d.sent #>> '{mobile,web_app}')::int
                                    WHEN d.forget_mobile THEN NULL ELSE b.applied_mobile_web_app END,
      applied_mobile_gadget = CASE WHEN d.kind = 'applied' AND d.sent ? 'mobile' THEN (d.sent #>> '{mobile,gadget}')::int
                                   WHEN d.forget_mobile THEN NULL ELSE b.applied_mobile_gadget END,
      applied_at = CASE WHEN d.kind = 'applied' THEN now() ELSE b.applied_at END,
      last_pushed_at = CASE WHEN d.kind = 'applied' THEN now() ELSE b.last_pushed_at END,
      force_full = CASE WHEN d.kind IN ('applied', 'noop') AND b.desired_revision = b.lease_revision THEN false
                        ELSE b.force_full END,
      status = CASE WHEN d.kind IN ('applied', 'noop') AND b.desired_revision = b.lease_revision THEN 'in_sync'
                    WHEN d.kind IN ('applied', 'noop') THEN 'pending'
                    WHEN d.kind = 'park' AND b.desired_revision <> b.lease_revision THEN 'pending'
                    WHEN d.kind = 'retry' AND ${RESYNCED_DURING_PUSH} THEN 'pending'
                    ELSE d.status END,
      -- An operator's resync while the push was in flight (RESYNC_SQL: force_full, a new revision, attempts 0)
      -- asked for a push now: a failed push does not make it wait out a backoff.
      attempts = CASE WHEN d.kind = 'retry' AND ${RESYNCED_DURING_PUSH} THEN 0 ELSE d.attempts END,
      next_attempt_at = CASE WHEN d.kind = 'retry' AND ${RESYNCED_DURING_PUSH} THEN clock_timestamp()
                             ELSE clock_timestamp() + d.delay_ms * interval '1 millisecond' END,
      -- A version Feishu names may be any number of digits: clamp to the 64-bit range (at the maximum the next
      -- claim parks the user).
      last_version = greatest(b.last_version, least(coalesce(d.min_version, 0), ${MAX_VERSION_SQL})::bigint),
      last_error_code = CASE WHEN d.kind IN ('applied', 'noop') THEN NULL ELSE d.code END,
      last_error_message = CASE WHEN d.kind IN ('applied', 'noop') THEN NULL ELSE d.message END,
      last_error_log_id = CASE WHEN d.kind IN ('applied', 'noop') THEN NULL ELSE d.log_id END,
      last_error_at = CASE WHEN d.kind IN ('applied', 'noop') THEN NULL ELSE now() END,
      lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, lease_revision = NULL,
      updated_at = now()
    FROM d JOIN prev USING (tenant_key, user_id_type, user_id)
    WHERE (b.tenant_key, b.user_id_type, b.user_id) = (d.tenant_key, d.user_id_type, d.user_id)
      AND b.lease_owner = $19 AND b.lease_version = d.version
    RETURNING b.tenant_key, b.user_id_type, b.user_id, b.status, b.desired_revision, b.pushed_revision, b.desired_changed_at
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, version, outcome, code, http_status,
                             latency_ms, log_id, new_counts, detail, event_lag_ms)
    SELECT d.tenant_key, d.user_id_type, d.user_id, ${sqlKind('push')},
           d.version, d.outcome, d.code, d.http_status, d.latency_ms, d.log_id, d.sent,
           concat_ws('; ', d.message,
                     CASE WHEN u.user_id IS NULL THEN 'lease lost: result dropped'
                          WHEN u.status = 'parked' THEN 'user parked until its badge changes or an operator resyncs' END),
           -- Event→applied latency (GET /v1/stats/series): only for the first push accepted since the latest desired
           -- change, when that change is what was pushed; resyncs and drift repair re-push older changes.
           CASE WHEN d.kind = 'applied' AND u.pushed_revision = u.desired_revision
                     AND (p.applied_at IS NULL OR p.applied_at < u.desired_changed_at)
                THEN least(greatest(0, extract(epoch FROM now() - u.desired_changed_at) * 1000), 2147483647)::int END
    FROM d
    LEFT JOIN upd u ON (u.tenant_key, u.user_id_type, u.user_id) = (d.tenant_key, d.user_id_type, d.user_id)
    LEFT JOIN prev p ON (p.tenant_key, p.user_id_type, p.user_id) = (d.tenant_key, d.user_id_type, d.user_id)
    WHERE d.kind <> 'noop' AND d.outcome <> 'deferred'
  )
  SELECT tenant_key, user_id_type, user_id, status FROM upd`;

export const PAUSE_SCOPE_SQL = `
  UPDATE push_budget SET paused_until = greatest(paused_until, clock_timestamp() + $2 * interval '1 millisecond')
  WHERE scope = $1`;

/**
 * Gives up this owner's leases (shutdown): the users come due again at once for any replica. A lease still held
 * here is a push whose result was not recorded, and it may have been applied: its sides become unknown.
 */
export const RELEASE_LEASES_SQL = `
  WITH held AS (
    SELECT s.tenant_key, s.user_id_type, s.user_id FROM badge_state s WHERE s.lease_owner = $1 ${lockInKeyOrder('s')}
  )
  UPDATE badge_state b SET lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, lease_revision = NULL,
                           applied_pc_web_app = NULL, applied_pc_gadget = NULL,
                           applied_mobile_web_app = NULL, applied_mobile_gadget = NULL,
                           next_attempt_at = clock_timestamp(), updated_at = now()
  FROM held
  WHERE (b.tenant_key, b.user_id_type, b.user_id) = (held.tenant_key, held.user_id_type, held.user_id)
    AND b.lease_owner = $1`;

/**
 * One push slot outside a claim (a retry with a fresh token, owner $4): same budget, same grid as a claim's. Held
 * back by the join gap, none (held_back true, the rest null): the retry is not sent, and the push is claimed again
 * in the usual way, rather than leave the grid empty before a slot past the gap.
 */
export const RESERVE_SLOT_SQL = `
  WITH locked AS (
    SELECT next_slot_at, paused_until, last_owner, shared_until, alone_owner, alone_until, unused_at FROM push_budget WHERE scope = $1 FOR UPDATE
  ),
  g AS (${gridAt('locked', { owner: '$4', lead: '$2', sole: '$3', shared: '$5', gap: '$6', memory: '$7', unusedWithin: '$8' })}),
  reserved AS (
    UPDATE push_budget p SET ${gridAdvance('p', 'g', '$4', '$7', 'g.start_ms + g.spacing_ms')}
    FROM g WHERE p.scope = $1 AND NOT g.held_back
    RETURNING g.start_ms AS at_ms, g.spacing_ms, g.shared
  )
  SELECT g.held_back, r.* FROM g LEFT JOIN reserved r ON true`;

/**
 * Drift repair: marks users not pushed for a long while for a full re-push, at most $2 of them, coming due one
 * every $3 ms rather than all at once: repair takes its share of the quota in every second, never a burst.
 */
export const MARK_FOR_RESYNC_SQL = `
  WITH stale AS (
    SELECT tenant_key, user_id_type, user_id, last_pushed_at FROM badge_state
    WHERE desired_revision = pushed_revision AND status = 'in_sync'
      AND last_pushed_at < clock_timestamp() - $1 * interval '1 millisecond'
    ORDER BY last_pushed_at LIMIT $2
    FOR UPDATE SKIP LOCKED
  ),
  numbered AS (
    SELECT stale.*, row_number() OVER (ORDER BY last_pushed_at) - 1 AS n FROM stale
  ),
  marked AS (
    UPDATE badge_state b SET force_full = true, desired_revision = b.desired_revision + 1, status = 'pending',
                             lane = ${LANES.bulk},
                             next_attempt_at = now() + numbered.n * $3::float8 * interval '1 millisecond',
                             updated_at = now()
    FROM numbered WHERE (b.tenant_key, b.user_id_type, b.user_id) = (numbered.tenant_key, numbered.user_id_type, numbered.user_id)
    RETURNING b.tenant_key, b.user_id_type, b.user_id
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, detail)
    SELECT tenant_key, user_id_type, user_id, ${sqlKind('resync')}, 'drift repair: not pushed for a long while' FROM marked
  )
  SELECT count(*)::int AS n FROM marked`;

interface ClaimRow extends BadgeCountColumns {
  tenant_key: string;
  user_id_type: ClaimedUser['userIdType'];
  user_id: string;
  version: string;
  revision: string;
  force_full: boolean;
  attempts: number;
  desired_changed_at: Date;
  lease_taken_over: boolean;
}

/** CLAIM_SQL's rows: the budget's figures on each, a claimed user's columns (null on the row of figures alone). */
interface ClaimStatementRow extends ClaimRow {
  start_ms: number;
  received_ms: number;
  end_ms: number;
  in_mode: boolean;
  want: number;
  spacing_ms: number;
  shared: boolean;
  live: number;
  min_slots: number;
  bulk_due: boolean;
}

// Parsed and planned once per pooled connection: these run for every claim and every group of results, and
// planning the CTEs anew each time was a good part of Postgres's CPU per push.
/** Custom apps only ($4 always null): a store app's claim keeps a plan made for its tenant. */
const CLAIM_ONE_SCOPE: NamedStatement = { name: 'reconcile_claim', text: CLAIM_SQL };
const COMPLETE: NamedStatement = { name: 'reconcile_complete', text: COMPLETE_SQL };

const side = (web: number | null, gadget: number | null) => (web === null || gadget === null ? null : { web_app: web, gadget });

export class ReconcileRepository {
  constructor(private readonly ds: DataSource) {}

  async ensureBudget(scope: string): Promise<void> {
    await this.ds.query(ENSURE_BUDGET_SQL, [scope]);
  }

  /**
   * In one statement (CLAIM_SQL): reserve push slots in the scope's budget (at most what fits in `horizonMs`), claim
   * that many users, and advance the budget by the users actually claimed.
   */
  async claim(opts: {
    scope: string;
    tenantFilter: string | null;
    owner: string;
    limit: number;
    leaseMs: number;
    /** The slot grid (SlotGrid): its sole spacing, and how it is spaced while shared. */
    spacingMs: number;
    shared?: SlotGrid['shared'];
    horizonMs: number;
    /** The first slot is at least this far ahead, so it is still ahead when the claim has committed. */
    leadMs: number;
    /** The caller's clock; every time returned is converted to it. Default Date.now. */
    now?: LocalClock;
    /** The caller's FEISHU_MODE: nothing is claimed unless the database is in it (ModeRepository). Default live. */
    mode?: 'live' | 'shadow';
    /**
     * Bulk work reserves slots only this far ahead (live work: `horizonMs`), and only once half of that is free,
     * so a live change never waits behind more than this much bulk work. Default `horizonMs` (no distinction).
     */
    bulkHorizonMs?: number;
  }): Promise<Claim> {
    const localNow = opts.now ?? Date.now;
    // A horizon always has room for one slot past the lead, however slow the rate: at FEISHU_RATE_LIMIT=1 a slot is
    // 1,015 ms apart, more than the 1,000 ms horizon, and below ~29/s more than the bulk horizon, so an idle budget
    // would never fit one and that work would never be claimed. One and a half spacings fit exactly one slot (the
    // lead's start is read a few microseconds after now).
    // (The shared spacing is the wider, and less than 4/3 of the sole one: 1.5 of it fits one slot in either.)
    const oneSlotMs = opts.leadMs + 1.5 * Math.max(opts.spacingMs, opts.shared?.spacingMs ?? 0);
    const horizonMs = Math.max(opts.horizonMs, oneSlotMs);
    const bulkHorizonMs = Math.max(opts.bulkHorizonMs ?? horizonMs, oneSlotMs);
    // Half the bulk horizon free (or a full claim's worth): bulk claims stay few however high the rate.
    const bulkMinFreeMs = opts.bulkHorizonMs === undefined ? null : bulkHorizonMs / 2;
    const grid = gridParams(opts);
    const params = [opts.scope, opts.owner, opts.leaseMs, opts.tenantFilter, opts.mode ?? 'live', opts.leadMs, opts.spacingMs, opts.limit, horizonMs, bulkHorizonMs, bulkMinFreeMs, ...grid];
    const before = localNow();
    const rows: ClaimStatementRow[] = opts.tenantFilter === null ? await queryNamed<ClaimStatementRow>(this.ds, CLAIM_ONE_SCOPE, params) : await this.ds.query(CLAIM_SQL, params);
    const after = localNow();
    const budget = rows[0];
    if (!budget) throw new Error(`push budget for scope '${opts.scope}' is missing`);
    // The offset between the two clocks, to within half the network's part of the round trip: the statement's own
    // time in the database (from its arrival to its last row, a wait for another replica's hold on the budget row
    // included) is taken out. Every comparison of slots and due times is then made in the database's time.
    // (The commit follows the last row: the offset may be low by half of its WAL flush, which the RTT includes.)
    const execMs = Math.max(0, Math.min(after - before, Math.max(...rows.map((r) => r.end_ms)) - budget.received_ms));
    const clockOffsetMs = budget.received_ms - (before + after - execMs) / 2;
    const clockRttMs = after - before - execMs;
    const start = budget.start_ms;
    const spacingMs = budget.spacing_ms;
    const local = (dbMs: number) => dbMs - clockOffsetMs;
    const clock = { clockOffsetMs, clockRttMs, spacingMs, shared: budget.shared };
    const users = rows.filter((r) => r.user_id !== null).map(toClaimed);
    let freeAt: number | null = null;
    // Not in the database's mode (want 0, no bulk due): no wait here; the loop falls back to the earliest due time,
    // as after a claim that found no one.
    if (budget.in_mode && budget.want === 0) freeAt = start - horizonMs + spacingMs;
    else if (budget.bulk_due) freeAt = start + budget.live * spacingMs - bulkHorizonMs + budget.min_slots * spacingMs;
    return {
      ...clock,
      users,
      firstSlotAt: local(start),
      budgetFreeAt: freeAt === null ? null : local(freeAt),
      db: { firstSlotAt: start, budgetFreeAt: freeAt },
    };
  }

  /**
   * One more slot in the scope's budget for `owner` (see RESERVE_SLOT_SQL): its time in the database's clock, the
   * grid's spacing then, and whether the budget counted as shared (as Claim.shared); null when the join gap holds
   * this owner back.
   */
  async reserveSlot(scope: string, owner: string, grid: SlotGrid, leadMs: number): Promise<{ atMs: number; spacingMs: number; shared: boolean } | null> {
    // A SELECT at the top (the UPDATE is a CTE): TypeORM answers the rows.
    const [r] = await this.ds.query(RESERVE_SLOT_SQL, [scope, leadMs, grid.spacingMs, owner, ...gridParams(grid)]);
    if (!r) throw new Error(`push budget for scope '${scope}' is missing`);
    if (r.held_back) return null;
    return { atMs: r.at_ms, spacingMs: r.spacing_ms, shared: r.shared };
  }

  /** Tenants with due work, at most `limit`, the first after `after` (wrapping round). */
  async dueScopes(limit: number, after: string | null = null): Promise<string[]> {
    const read = async (from: string | null) => (await this.ds.query(DUE_SCOPES_SQL, [limit, from])).map((r: { tenant_key: string }) => r.tenant_key);
    const first: string[] = await read(after);
    if (after === null || first.length >= limit) return first;
    const wrapped = (await read(null)).filter((t: string) => t <= after && !first.includes(t));
    return [...first, ...wrapped].slice(0, limit);
  }

  /** When the earliest dirty user comes due, in the caller's clock given the offset a claim measured. */
  async earliestDue(clockOffsetMs = 0): Promise<number | null> {
    const [r] = await this.ds.query(EARLIEST_DUE_SQL);
    return r?.at_ms == null ? null : r.at_ms - clockOffsetMs;
  }

  async dirtySummary(): Promise<{ dirty: number; oldestMs: number | null }> {
    const [r] = await this.ds.query(DIRTY_SUMMARY_SQL);
    return { dirty: r.dirty, oldestMs: r.oldest_ms };
  }

  /** Returns the users whose completion was written (the rest had lost their lease). */
  async complete(owner: string, cs: readonly Completion[]): Promise<{ userId: string; tenantKey: string; userIdType: string; status: string }[]> {
    if (cs.length === 0) return [];
    const col = <T>(f: (c: Completion) => T) => cs.map(f);
    const rows = await queryNamed<{ tenant_key: string; user_id_type: string; user_id: string; status: string }>(this.ds, COMPLETE, [
      col((c) => c.tenantKey),
      col((c) => c.userIdType),
      col((c) => c.userId),
      col((c) => c.version),
      col((c) => c.kind),
      col((c) => (c.sent ? JSON.stringify(c.sent) : null)),
      col((c) => c.forgetPc),
      col((c) => c.forgetMobile),
      col((c) => Math.round(c.delayMs)),
      col((c) => c.status),
      col((c) => c.attempts),
      col((c) => c.minVersion),
      col((c) => c.outcome),
      col((c) => c.code),
      col((c) => c.httpStatus),
      col((c) => storableText(c.message)),
      col((c) => storableText(c.logId)),
      col((c) => (c.latencyMs === null ? null : Math.round(c.latencyMs))),
      owner,
    ]);
    return rows.map((r) => ({
      tenantKey: r.tenant_key,
      userIdType: r.user_id_type,
      userId: r.user_id,
      status: r.status,
    }));
  }

  async pause(scope: string, ms: number): Promise<void> {
    await this.ds.query(PAUSE_SCOPE_SQL, [scope, Math.ceil(ms)]);
  }

  async releaseLeases(owner: string): Promise<number> {
    const r = await this.ds.query(RELEASE_LEASES_SQL, [owner]);
    return r[1] ?? 0;
  }

  /** Marks at most `max` users for a full re-push, coming due one every `spacingMs`. */
  async markForResync(notPushedForMs: number, max: number, spacingMs = 0): Promise<number> {
    const [r] = await this.ds.query(MARK_FOR_RESYNC_SQL, [notPushedForMs, max, spacingMs]);
    return r.n;
  }
}

function toClaimed(r: ClaimRow): ClaimedUser {
  return {
    tenantKey: r.tenant_key,
    userIdType: r.user_id_type,
    userId: r.user_id,
    version: r.version,
    revision: r.revision,
    desired: {
      pc: { web_app: r.desired_pc_web_app, gadget: r.desired_pc_gadget },
      mobile: { web_app: r.desired_mobile_web_app, gadget: r.desired_mobile_gadget },
    },
    applied: {
      pc: side(r.applied_pc_web_app, r.applied_pc_gadget),
      mobile: side(r.applied_mobile_web_app, r.applied_mobile_gadget),
    },
    forceFull: r.force_full,
    attempts: r.attempts,
    desiredChangedAt: new Date(r.desired_changed_at),
    leaseTakenOver: r.lease_taken_over,
  };
}
