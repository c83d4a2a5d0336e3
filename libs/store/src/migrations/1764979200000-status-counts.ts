import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GET /v1/stats without counting badge_state: users per (tenant, status) are kept in badge_status_count (the totals)
 * plus badge_status_delta (changes not yet folded in), both written by statement-level triggers on badge_state in
 * the transaction that changes the rows. Each statement appends one aggregated row per (tenant, status) it moved
 * (insert +n, delete -n, update new minus old), so concurrent writers (ingest partitions, reconcilers, replicas) only
 * append and never wait on a shared counter row. A periodic fold (StatusCountsRepository.fold) moves the deltas
 * into the totals in one statement; the read sums totals and pending deltas in one snapshot, so it is exact whether
 * a fold has committed or not.
 *
 * Every writer of badge_state is covered whatever its statement (ingest's upserts, the reconciler's outcomes,
 * source retirement, retention, the snapshot loader, the operator resync, later migrations), since the triggers
 * are on the table. A TRUNCATE of badge_state (tests, a manual reset) empties both tables. badge_state is a plain
 * (not partitioned) table, so the triggers see every row; the lane and the other columns do not enter the counts.
 *
 * Initialisation: in the migration's transaction, badge_state is locked against writers (SHARE ROW EXCLUSIVE, the
 * lock CREATE TRIGGER takes anyway; reads go on) before the triggers are created and the totals counted, so a row
 * committed before the count is in the totals and any later write goes through the triggers: nothing is counted
 * twice or missed. Writers wait for the one count (about 0.3 s per million users).
 */
export class StatusCounts1764979200000 implements MigrationInterface {
  name = 'StatusCounts1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE badge_state IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`
      CREATE TABLE badge_status_count (
        tenant_key  text COLLATE "C" NOT NULL,
        status      text             NOT NULL,
        n           bigint           NOT NULL,
        PRIMARY KEY (tenant_key, status)
      )`);
    // Append-only, no index: the fold takes all of it, the read scans it (a fold period's worth of rows).
    await q.query(`
      CREATE TABLE badge_status_delta (
        tenant_key  text COLLATE "C" NOT NULL,
        status      text             NOT NULL,
        n           bigint           NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION badge_status_delta_record() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO badge_status_delta (tenant_key, status, n)
          SELECT tenant_key, status, count(*) FROM new_rows GROUP BY tenant_key, status;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO badge_status_delta (tenant_key, status, n)
          SELECT tenant_key, status, -count(*) FROM old_rows GROUP BY tenant_key, status;
        ELSIF TG_OP = 'UPDATE' THEN
          -- Most updates keep the status (ingest's desired counts, leases): their +1 and -1 cancel, nothing is written.
          INSERT INTO badge_status_delta (tenant_key, status, n)
          SELECT tenant_key, status, sum(d) FROM (
            SELECT tenant_key, status, 1 AS d FROM new_rows
            UNION ALL
            SELECT tenant_key, status, -1 AS d FROM old_rows
          ) moved
          GROUP BY tenant_key, status HAVING sum(d) <> 0;
        ELSIF TG_OP = 'TRUNCATE' THEN
          TRUNCATE badge_status_count, badge_status_delta;
        END IF;
        RETURN NULL;
      END $$`);
    // Transition tables allow one event per trigger.
    await q.query(`
      CREATE TRIGGER badge_status_count_insert AFTER INSERT ON badge_state
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION badge_status_delta_record()`);
    await q.query(`
      CREATE TRIGGER badge_status_count_update AFTER UPDATE ON badge_state
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION badge_status_delta_record()`);
    await q.query(`
      CREATE TRIGGER badge_status_count_delete AFTER DELETE ON badge_state
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION badge_status_delta_record()`);
    await q.query(`
      CREATE TRIGGER badge_status_count_truncate AFTER TRUNCATE ON badge_state
        FOR EACH STATEMENT EXECUTE FUNCTION badge_status_delta_record()`);
    await q.query(`
      INSERT INTO badge_status_count (tenant_key, status, n)
      SELECT tenant_key, status, count(*) FROM badge_state GROUP BY tenant_key, status`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS badge_status_count_truncate ON badge_state`);
    await q.query(`DROP TRIGGER IF EXISTS badge_status_count_delete ON badge_state`);
    await q.query(`DROP TRIGGER IF EXISTS badge_status_count_update ON badge_state`);
    await q.query(`DROP TRIGGER IF EXISTS badge_status_count_insert ON badge_state`);
    await q.query(`DROP FUNCTION IF EXISTS badge_status_delta_record()`);
    await q.query(`DROP TABLE IF EXISTS badge_status_delta`);
    await q.query(`DROP TABLE IF EXISTS badge_status_count`);
  }
}
