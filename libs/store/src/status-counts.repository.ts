import { DataSource } from 'typeorm';

/**
 * Moves the pending per-(tenant, status) deltas the badge_state triggers appended into the totals, in one
 * statement (migration StatusCounts1764979200000): the deltas a concurrent fold already took are skipped by this
 * one's DELETE, and deltas of uncommitted writers stay for the next fold. Returns the delta rows folded.
 */
export const FOLD_STATUS_COUNTS_SQL = `
  WITH moved AS (DELETE FROM badge_status_delta RETURNING tenant_key, status, n),
  folded AS (
    INSERT INTO badge_status_count AS c (tenant_key, status, n)
    SELECT tenant_key, status, sum(n) FROM moved GROUP BY tenant_key, status
    ON CONFLICT (tenant_key, status) DO UPDATE SET n = c.n + EXCLUDED.n
  )
  SELECT count(*)::int AS n FROM moved`;

/** The same for the per-minute push counts (migration PushCounts1764979200001). */
export const FOLD_PUSH_COUNTS_SQL = `
  WITH moved AS (DELETE FROM badge_push_delta RETURNING minute, tenant_key, outcome, code, n),
  folded AS (
    INSERT INTO badge_push_count AS c (minute, tenant_key, outcome, code, n)
    SELECT minute, tenant_key, outcome, code, sum(n) FROM moved GROUP BY minute, tenant_key, outcome, code
    ON CONFLICT (tenant_key, minute, outcome, code) DO UPDATE SET n = c.n + EXCLUDED.n
  )
  SELECT count(*)::int AS n FROM moved`;

/** Minutes older than $1 seconds (plus one) are past any window read: dropped. */
export const PRUNE_PUSH_COUNTS_SQL = `
  DELETE FROM badge_push_count WHERE minute < floor(extract(epoch FROM now() - $1 * interval '1 second') / 60)::bigint - 1`;

/** Folds the deltas of GET /v1/stats's counts (users per status, pushes per minute) into their totals. */
export class StatusCountsRepository {
  constructor(private readonly ds: DataSource) {}

  /** Returns the delta rows folded; push minutes older than `keepSeconds` are dropped. */
  async fold(keepSeconds: number): Promise<number> {
    const [users]: { n: number }[] = await this.ds.query(FOLD_STATUS_COUNTS_SQL);
    const [pushes]: { n: number }[] = await this.ds.query(FOLD_PUSH_COUNTS_SQL);
    await this.ds.query(PRUNE_PUSH_COUNTS_SQL, [keepSeconds]);
    return users.n + pushes.n;
  }
}
