import { DIRTY_PREDICATE } from './dirty-set';

/**
 * Priority lanes of dirty users (badge_state.lane): live work (a change from an event, an operator's resync of
 * one user) is always claimed first; bulk work (snapshots, the switch from shadow to live, drift repair, a
 * retired source, producers' `badge-priority: bulk`) takes only the quota live work leaves.
 */
export const LANES = { live: 0, bulk: 1 } as const;
export type Lane = keyof typeof LANES;

/** The lane of a row that bulk work marks dirty: a user already dirty with live work stays live. */
export const BULK_LANE_SQL = `CASE WHEN ${DIRTY_PREDICATE} AND lane = ${LANES.live} THEN ${LANES.live} ELSE ${LANES.bulk} END`;
