import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The mode the deployment's pushes are in (FEISHU_MODE): one row for the whole database, because what "applied"
 * means depends on it. In shadow mode nothing reaches Feishu, so the switch to live must forget every applied
 * side; replicas check it at every claim, so one started in the other mode claims nothing. Existing deployments
 * have always been live.
 */
export class ServiceMode1764633600000 implements MigrationInterface {
  name = 'ServiceMode1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE service_mode (
        id          smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        mode        text        NOT NULL CHECK (mode IN ('live', 'shadow')),
        changed_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`INSERT INTO service_mode (mode) VALUES ('live')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE service_mode`);
  }
}
