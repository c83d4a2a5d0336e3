import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The push budget remembers who reserved its last slots, until when it counts as shared, who reserved slots
 * alone last and up to when, and when slots of its grid last went unused (SlotGrid): while one replica pushes on a budget its slots are tight (its own SendWindow
 * keeps the count per window at Feishu), while several do they are spaced wider, and no other replica's slot comes
 * within a window after the slots one reserved alone. Constant defaults: no table rewrite; a budget starts unshared.
 */
export class SharedBudget1765065600000 implements MigrationInterface {
  name = 'SharedBudget1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE push_budget ADD COLUMN IF NOT EXISTS last_owner text`);
    await q.query(`ALTER TABLE push_budget ADD COLUMN IF NOT EXISTS shared_until timestamptz NOT NULL DEFAULT '-infinity'`);
    await q.query(`ALTER TABLE push_budget ADD COLUMN IF NOT EXISTS alone_owner text`);
    await q.query(`ALTER TABLE push_budget ADD COLUMN IF NOT EXISTS alone_until timestamptz NOT NULL DEFAULT '-infinity'`);
    await q.query(`ALTER TABLE push_budget ADD COLUMN IF NOT EXISTS unused_at timestamptz NOT NULL DEFAULT '-infinity'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE push_budget DROP COLUMN IF EXISTS unused_at`);
    await q.query(`ALTER TABLE push_budget DROP COLUMN IF EXISTS alone_until`);
    await q.query(`ALTER TABLE push_budget DROP COLUMN IF EXISTS alone_owner`);
    await q.query(`ALTER TABLE push_budget DROP COLUMN IF EXISTS shared_until`);
    await q.query(`ALTER TABLE push_budget DROP COLUMN IF EXISTS last_owner`);
  }
}
