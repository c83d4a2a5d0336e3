import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropIfInvalid } from './concurrent-index';

/**
 * Priority lanes: a dirty user's pending work is live (0: a change from an event) or bulk (1: a snapshot, a mode
 * switch, drift repair, a retired source, a producer's `badge-priority: bulk`). Claims take live work first and
 * give bulk work only the quota live work leaves; a user with both is live. Claims read the lane-first indexes.
 */
export class PriorityLanes1764720000000 implements MigrationInterface {
  name = 'PriorityLanes1764720000000';
  /** CONCURRENTLY: a big table keeps taking writes while the indexes are built (see DirtyByTenant). */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // A constant default: no table rewrite. The CHECK is validated apart, under a lock that lets writes through.
    await q.query(`ALTER TABLE badge_state ADD COLUMN IF NOT EXISTS lane smallint NOT NULL DEFAULT 0`);
    const [has] = await q.query(`SELECT 1 FROM pg_constraint WHERE conname = 'badge_state_lane_check'`);
    if (!has) await q.query(`ALTER TABLE badge_state ADD CONSTRAINT badge_state_lane_check CHECK (lane IN (0, 1)) NOT VALID`);
    await q.query(`ALTER TABLE badge_state VALIDATE CONSTRAINT badge_state_lane_check`);
    await dropIfInvalid(q, 'badge_state_dirty_lane');
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS badge_state_dirty_lane ON badge_state (lane, next_attempt_at)
        WHERE desired_revision > pushed_revision AND status <> 'parked'`);
    await dropIfInvalid(q, 'badge_state_dirty_tenant_lane');
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS badge_state_dirty_tenant_lane ON badge_state (tenant_key, lane, next_attempt_at)
        WHERE desired_revision > pushed_revision AND status <> 'parked'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS badge_state_dirty_tenant_lane`);
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS badge_state_dirty_lane`);
    await q.query(`ALTER TABLE badge_state DROP COLUMN IF EXISTS lane`);
  }
}
