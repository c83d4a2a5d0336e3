import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropIfInvalid } from './concurrent-index';

/**
 * Store apps have a quota per tenant, so the reconciler serves tenants fairly: it lists the tenants with dirty
 * users (a loose index scan, one descent per tenant) and claims each tenant's oldest due users. Both read this
 * index; without it one tenant's backlog hides every other tenant behind it.
 */
export class DirtyByTenant1764288000000 implements MigrationInterface {
  name = 'DirtyByTenant1764288000000';
  /** CONCURRENTLY: a big table keeps taking writes (ingest, claims) while the index is built. An interrupted
   * build leaves an invalid index, which the next run drops and builds again. */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await dropIfInvalid(q, 'badge_state_dirty_tenant');
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS badge_state_dirty_tenant ON badge_state (tenant_key, next_attempt_at)
        WHERE desired_revision > pushed_revision AND status <> 'parked'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS badge_state_dirty_tenant`);
  }
}
