import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Store apps have a quota per tenant, so the reconciler serves tenants fairly: it lists the tenants with dirty
 * users (a loose index scan, one descent per tenant) and claims each tenant's oldest due users. Both read this
 * index; without it one tenant's backlog hides every other tenant behind it.
 */
export class DirtyByTenant1764288000000 implements MigrationInterface {
  name = 'DirtyByTenant1764288000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE INDEX badge_state_dirty_tenant ON badge_state (tenant_key, next_attempt_at)
        WHERE desired_revision > pushed_revision AND status <> 'parked'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX badge_state_dirty_tenant`);
  }
}
