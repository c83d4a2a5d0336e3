import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764115200000 implements MigrationInterface {
  name = 'InitialSchema1764115200000';

  async up(q: QueryRunner): Promise<void> {
    // Identity columns use the C collation: byte-order comparison is several times cheaper than a locale's in
    // the sorts and joins of every batch, and ids have no linguistic order anyway.
    // Each source's latest absolute counts for a user: newest sequence wins.
    await q.query(`
      CREATE TABLE badge_source (
        tenant_key      text COLLATE "C"        NOT NULL,
        user_id_type    text COLLATE "C"        NOT NULL,
        user_id         text COLLATE "C"        NOT NULL,
        source          text COLLATE "C"        NOT NULL,
        sequence        bigint      NOT NULL,
        event_id        text        NOT NULL,
        pc_web_app      integer     NOT NULL,
        pc_gadget       integer     NOT NULL,
        mobile_web_app  integer     NOT NULL,
        mobile_gadget   integer     NOT NULL,
        occurred_at     timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_key, user_id_type, user_id, source)
      )`);

    // One row per user: desired (sum over sources), what Feishu last accepted (applied), and the reconciler's
    // bookkeeping. A user is dirty while desired_revision > pushed_revision.
    await q.query(`
      CREATE TABLE badge_state (
        tenant_key              text COLLATE "C"        NOT NULL,
        user_id_type            text COLLATE "C"        NOT NULL,
        user_id                 text COLLATE "C"        NOT NULL,
        desired_pc_web_app      integer     NOT NULL DEFAULT 0,
        desired_pc_gadget       integer     NOT NULL DEFAULT 0,
        desired_mobile_web_app  integer     NOT NULL DEFAULT 0,
        desired_mobile_gadget   integer     NOT NULL DEFAULT 0,
        desired_revision        bigint      NOT NULL DEFAULT 0,
        desired_changed_at      timestamptz NOT NULL DEFAULT now(),
        pushed_revision         bigint      NOT NULL DEFAULT 0,
        applied_pc_web_app      integer,
        applied_pc_gadget       integer,
        applied_mobile_web_app  integer,
        applied_mobile_gadget   integer,
        applied_at              timestamptz,
        force_full              boolean     NOT NULL DEFAULT false,
        last_version            bigint      NOT NULL DEFAULT 0,
        last_pushed_at          timestamptz,
        lease_owner             text,
        lease_expires_at        timestamptz,
        lease_version           bigint,
        lease_revision          bigint,
        next_attempt_at         timestamptz NOT NULL DEFAULT now(),
        attempts                integer     NOT NULL DEFAULT 0,
        status                  text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'in_sync', 'backing_off', 'parked')),
        last_error_code         integer,
        last_error_message      text,
        last_error_log_id       text,
        last_error_at           timestamptz,
        created_at              timestamptz NOT NULL DEFAULT now(),
        updated_at              timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_key, user_id_type, user_id)
      )`);
    // The dirty set: cost of finding work follows the number of dirty users, not of users.
    await q.query(`
      CREATE INDEX badge_state_dirty ON badge_state (next_attempt_at)
        WHERE desired_revision > pushed_revision AND status <> 'parked'`);
    await q.query(`CREATE INDEX badge_state_status ON badge_state (status, tenant_key, user_id_type, user_id)`);
    await q.query(`
      CREATE INDEX badge_state_resync ON badge_state (last_pushed_at)
        WHERE desired_revision = pushed_revision AND status = 'in_sync'`);

    // Deployment-wide push budget per Feishu quota scope (the tenant; '' for a custom app), shared by every
    // replica: pushes are given evenly spaced time slots, next_slot_at is the first free one (GCRA).
    await q.query(`
      CREATE TABLE push_budget (
        scope         text        PRIMARY KEY,
        next_slot_at  timestamptz NOT NULL DEFAULT '-infinity',
        paused_until  timestamptz NOT NULL DEFAULT '-infinity'
      )`);

    // Store apps: Feishu pushes the app_ticket to whichever replica it reaches; every replica reads it here.
    await q.query(`
      CREATE TABLE feishu_app_ticket (
        app_id       text        PRIMARY KEY,
        ticket       text        NOT NULL,
        received_at  timestamptz NOT NULL DEFAULT now()
      )`);

    // The audit trail, partitioned by day so retention drops partitions instead of deleting rows. The default
    // partition catches rows whose day has no partition yet; maintenance keeps it empty.
    await q.query(`
      CREATE TABLE badge_audit (
        at            timestamptz NOT NULL DEFAULT now(),
        id            bigserial   NOT NULL,
        tenant_key    text COLLATE "C"        NOT NULL,
        user_id_type  text COLLATE "C"        NOT NULL,
        user_id       text COLLATE "C"        NOT NULL,
        kind          text        NOT NULL,
        source        text,
        sequence      bigint,
        event_id      text,
        old_counts    jsonb,
        new_counts    jsonb,
        version       bigint,
        outcome       text,
        code          integer,
        http_status   integer,
        latency_ms    integer,
        log_id        text,
        detail        text
      ) PARTITION BY RANGE (at)`);
    await q.query(`CREATE INDEX badge_audit_user ON badge_audit (tenant_key, user_id_type, user_id, at DESC, id DESC)`);
    await q.query(`CREATE INDEX badge_audit_push_outcome ON badge_audit (at, outcome) WHERE kind = 'push'`);
    await q.query(`CREATE TABLE badge_audit_default PARTITION OF badge_audit DEFAULT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE badge_audit`);
    await q.query(`DROP TABLE feishu_app_ticket`);
    await q.query(`DROP TABLE push_budget`);
    await q.query(`DROP TABLE badge_state`);
    await q.query(`DROP TABLE badge_source`);
  }
}
