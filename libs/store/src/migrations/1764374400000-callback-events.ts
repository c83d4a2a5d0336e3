import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The store-app event callback: ids of events already taken (every replica shares them, so a replay to another
 * replica is caught too; pruned after a day), and the creation time of the stored app_ticket, so an older ticket
 * delivered late never replaces a newer one.
 */
export class CallbackEvents1764374400000 implements MigrationInterface {
  name = 'CallbackEvents1764374400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE feishu_callback_event (
        event_id     text        PRIMARY KEY,
        received_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX feishu_callback_event_received ON feishu_callback_event (received_at)`);
    await q.query(`ALTER TABLE feishu_app_ticket ADD COLUMN issued_at timestamptz NOT NULL DEFAULT '-infinity'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE feishu_app_ticket DROP COLUMN issued_at`);
    await q.query(`DROP TABLE feishu_callback_event`);
  }
}
