import { DataSource } from 'typeorm';
import { NOTIFY_DIRTY_SQL } from './ingest.repository';
import { BULK_LANE_SQL } from './lanes';
import { lockInKeyOrder } from './key-order';
import { sqlKind } from './vocabulary';
import { withoutQueryLimit } from './database';

export type FeishuMode = 'live' | 'shadow';

export const CURRENT_MODE_SQL = `SELECT mode FROM service_mode WHERE id = 1`;

const LOCK_MODE_SQL = `SELECT mode FROM service_mode WHERE id = 1 FOR UPDATE`;

const SET_MODE_SQL = `UPDATE service_mode SET mode = $1, changed_at = now() WHERE id = 1`;

/**
 * Shadow to live: Feishu has seen none of what shadow mode recorded as applied, so every side of every user is
 * unknown and each user gets one full push. Leases are dropped too, so a shadow replica still finishing a claim
 * has its completion fenced off (its lease is gone) rather than recording a pretend push after the switch.
 * Parked users stay parked (in shadow only an exhausted version parks). Each user's history says why. It is
 * bulk work: live changes keep being pushed first while every user is re-pushed.
 */
export const SHADOW_TO_LIVE_SQL = `
  WITH every AS (
    -- Every row locked in key order first (lockInKeyOrder): a bare UPDATE locks in the table's order.
    SELECT s.tenant_key, s.user_id_type, s.user_id FROM badge_state s ${lockInKeyOrder('s')}
  ),
  reset AS (
    UPDATE badge_state b SET
      applied_pc_web_app = NULL, applied_pc_gadget = NULL, applied_mobile_web_app = NULL, applied_mobile_gadget = NULL,
      force_full = true, desired_revision = desired_revision + 1, lane = ${BULK_LANE_SQL},
      status = CASE WHEN status = 'parked' THEN 'parked' ELSE 'pending' END,
      attempts = 0, next_attempt_at = clock_timestamp(),
      lease_owner = NULL, lease_expires_at = NULL, lease_version = NULL, lease_revision = NULL,
      updated_at = now()
    FROM every
    WHERE (b.tenant_key, b.user_id_type, b.user_id) = (every.tenant_key, every.user_id_type, every.user_id)
    RETURNING b.tenant_key, b.user_id_type, b.user_id
  ),
  audit AS (
    INSERT INTO badge_audit (tenant_key, user_id_type, user_id, kind, detail)
    SELECT tenant_key, user_id_type, user_id, ${sqlKind('resync')},
           'FEISHU_MODE switched from shadow to live: Feishu has seen none of the shadow pushes, so every side is sent once'
    FROM reset
  )
  SELECT count(*)::int AS n FROM reset`;

export class ModeRepository {
  constructor(private readonly ds: DataSource) {}

  /** The database's mode: the one every replica's claims follow. */
  async current(): Promise<FeishuMode> {
    const [r] = await this.ds.query(CURRENT_MODE_SQL);
    return (r?.mode ?? 'live') as FeishuMode;
  }

  /**
   * Puts the database in `mode` (a replica starting with FEISHU_MODE). From shadow to live, every user is reset
   * for one full push in the same transaction. Returns the mode it was in and the users reset.
   */
  enter(mode: FeishuMode): Promise<{ was: FeishuMode; reset: number }> {
    // Untimed: the reset touches every user, and the other replicas' enter() waits for it on the mode row.
    return this.ds.transaction((m) => withoutQueryLimit(m.queryRunner!, async () => {
      const [row] = await m.query(LOCK_MODE_SQL);
      const was = (row?.mode ?? 'live') as FeishuMode;
      if (was === mode) return { was, reset: 0 };
      let reset = 0;
      if (was === 'shadow' && mode === 'live') [{ n: reset }] = await m.query(SHADOW_TO_LIVE_SQL);
      await m.query(SET_MODE_SQL, [mode]);
      if (reset > 0) await m.query(NOTIFY_DIRTY_SQL, ['1']);
      return { was, reset };
    }));
  }
}
