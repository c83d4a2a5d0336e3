import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropIfInvalid } from './concurrent-index';

/**
 * Retiring a source (DELETE /v1/sources/{source}) finds the users holding it through this index, in batches,
 * instead of scanning every user's sources once per batch.
 */
export class SourceIndex1764806400000 implements MigrationInterface {
  name = 'SourceIndex1764806400000';
  /** CONCURRENTLY: ingest keeps writing sources while it is built (see DirtyByTenant). */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await dropIfInvalid(q, 'badge_source_by_source');
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS badge_source_by_source ON badge_source (source, tenant_key, user_id_type, user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS badge_source_by_source`);
  }
}
