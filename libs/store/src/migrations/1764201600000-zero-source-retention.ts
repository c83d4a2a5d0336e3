import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropIfInvalid } from './concurrent-index';

export class ZeroSourceRetention1764201600000 implements MigrationInterface {
  name = 'ZeroSourceRetention1764201600000';
  /** CONCURRENTLY: a big table keeps taking writes (ingest, claims) while the index is built. An interrupted
   * build leaves an invalid index, which the next run drops and builds again. */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await dropIfInvalid(q, 'badge_source_zero');
    // The retention job finds sources that have been all zeros since before the cutoff without scanning the rest.
    await q.query(`
      CREATE INDEX CONCURRENTLY IF NOT EXISTS badge_source_zero ON badge_source (updated_at)
        WHERE pc_web_app = 0 AND pc_gadget = 0 AND mobile_web_app = 0 AND mobile_gadget = 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS badge_source_zero`);
  }
}
