import { MigrationInterface, QueryRunner } from 'typeorm';

export class ZeroSourceRetention1764201600000 implements MigrationInterface {
  name = 'ZeroSourceRetention1764201600000';

  async up(q: QueryRunner): Promise<void> {
    // The retention job finds sources that have been all zeros since before the cutoff without scanning the rest.
    await q.query(`
      CREATE INDEX badge_source_zero ON badge_source (updated_at)
        WHERE pc_web_app = 0 AND pc_gadget = 0 AND mobile_web_app = 0 AND mobile_gadget = 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX badge_source_zero`);
  }
}
