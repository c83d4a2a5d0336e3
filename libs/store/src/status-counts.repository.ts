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

export class StatusCountsRepository {
  constructor(private readonly ds: DataSource) {}

  async fold(): Promise<number> {
    const [row]: { n: number }[] = await this.ds.query(FOLD_STATUS_COUNTS_SQL);
    return row.n;
  }
}
