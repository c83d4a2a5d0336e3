import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GET /v1/stats's pushes of the last hour without reading every push row of the hour (36 ms at 10M audit rows,
 * 27k pushes an hour): push rows are counted per UTC minute (epoch minute), tenant, outcome and code, by a
 * statement-level trigger on badge_audit (the partitioned table: its transition table holds the rows of every
 * partition) appending aggregated rows to badge_push_delta in the writer's transaction; the fold moves them into
 * badge_push_count and drops minutes long past. Each statement also appends the all-tenants rows (tenant_key NULL,
 * GROUPING SETS), so the unrestricted read does not grow with the number of tenants.
 *
 * The read is exact: the window's first, partial minute is counted from the rows, the whole minutes after it from
 * the counts and the pending deltas, all in one snapshot. Rows moved out of the default partition by maintenance
 * are written to the partition directly (no trigger: not counted twice); retention drops whole partitions, days
 * past the window. A TRUNCATE of badge_audit (tests, a manual reset) empties the counts.
 *
 * Initialisation: writers of badge_audit wait (SHARE ROW EXCLUSIVE, the lock CREATE TRIGGER takes) while the last
 * two hours of pushes are counted, so none is missed or counted twice. A migration of its own, so it holds no
 * other table's lock meanwhile.
 */
export class PushCounts1764979200001 implements MigrationInterface {
  name = 'PushCounts1764979200001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`LOCK TABLE badge_audit IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`
      CREATE TABLE badge_push_count (
        minute      bigint           NOT NULL,
        tenant_key  text COLLATE "C",
        outcome     text,
        code        integer,
        n           bigint           NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX badge_push_count_key ON badge_push_count (tenant_key, minute, outcome, code) NULLS NOT DISTINCT`);
    await q.query(`
      CREATE TABLE badge_push_delta (
        minute      bigint           NOT NULL,
        tenant_key  text COLLATE "C",
        outcome     text,
        code        integer,
        n           bigint           NOT NULL
      )`);
    await q.query(`
      CREATE FUNCTION badge_push_delta_record() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          TRUNCATE badge_push_count, badge_push_delta;
          RETURN NULL;
        END IF;
        INSERT INTO badge_push_delta (minute, tenant_key, outcome, code, n)
        SELECT minute, tenant_key, outcome, code, count(*)
        FROM (SELECT floor(extract(epoch FROM at) / 60)::bigint AS minute, tenant_key, outcome, code
              FROM new_rows WHERE kind = 'push') p
        GROUP BY GROUPING SETS ((minute, tenant_key, outcome, code), (minute, outcome, code));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER badge_push_count_insert AFTER INSERT ON badge_audit
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION badge_push_delta_record()`);
    await q.query(`
      CREATE TRIGGER badge_push_count_truncate AFTER TRUNCATE ON badge_audit
        FOR EACH STATEMENT EXECUTE FUNCTION badge_push_delta_record()`);
    await q.query(`
      INSERT INTO badge_push_count (minute, tenant_key, outcome, code, n)
      SELECT minute, tenant_key, outcome, code, count(*)
      FROM (SELECT floor(extract(epoch FROM at) / 60)::bigint AS minute, tenant_key, outcome, code
            FROM badge_audit WHERE kind = 'push' AND at >= now() - interval '2 hours') p
      GROUP BY GROUPING SETS ((minute, tenant_key, outcome, code), (minute, outcome, code))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS badge_push_count_truncate ON badge_audit`);
    await q.query(`DROP TRIGGER IF EXISTS badge_push_count_insert ON badge_audit`);
    await q.query(`DROP FUNCTION IF EXISTS badge_push_delta_record()`);
    await q.query(`DROP TABLE IF EXISTS badge_push_delta`);
    await q.query(`DROP TABLE IF EXISTS badge_push_count`);
  }
}
