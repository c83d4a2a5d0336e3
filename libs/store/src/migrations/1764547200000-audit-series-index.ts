import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropIfInvalid } from './concurrent-index';

const INDEX = 'badge_audit_series';
const COLUMNS = `(at) INCLUDE (outcome, event_lag_ms, tenant_key) WHERE kind = 'push'`;

/**
 * GET /v1/stats/series: pushes per minute by outcome and event→applied latency over recent hours, read by an
 * index-only scan of this partial index (push rows of the window only, never the rest of the trail).
 * `event_lag_ms` is stored on applied pushes by the completion (desired change stored → Feishu accepted).
 *
 * A partitioned table cannot build an index CONCURRENTLY, so the parent's index is made ON ONLY (invalid, no
 * work), each partition's is built CONCURRENTLY and attached; once all are attached the parent's is valid.
 * Partitions created later get theirs when they are attached (audit maintenance). Re-runnable: an interrupted
 * build leaves an invalid partition index, dropped and built again.
 */
export class AuditSeriesIndex1764547200000 implements MigrationInterface {
  name = 'AuditSeriesIndex1764547200000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // Nullable without a default: a catalog change only, on the parent and every partition.
    await q.query(`ALTER TABLE badge_audit ADD COLUMN IF NOT EXISTS event_lag_ms integer`);
    await q.query(`CREATE INDEX IF NOT EXISTS ${INDEX} ON ONLY badge_audit ${COLUMNS}`);
    const partitions: { name: string; attached: boolean }[] = await q.query(
      `SELECT c.relname AS name,
              EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_class ic ON ic.oid = ii.inhrelid
                      WHERE ii.inhparent = $1::regclass AND ic.relname = c.relname || '_series') AS attached
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'badge_audit'::regclass ORDER BY 1`,
      [INDEX],
    );
    for (const p of partitions) {
      if (!/^badge_audit_[a-z0-9_]+$/.test(p.name)) throw new Error(`unexpected audit partition name ${p.name}`);
      if (p.attached) continue;
      const own = `${p.name}_series`;
      await dropIfInvalid(q, own);
      await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${own} ON ${p.name} ${COLUMNS}`);
      await q.query(`ALTER INDEX ${INDEX} ATTACH PARTITION ${own}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS ${INDEX}`);
    await q.query(`ALTER TABLE badge_audit DROP COLUMN IF EXISTS event_lag_ms`);
  }
}
