/**
 * The dirty set: users whose desired badge is not yet at Feishu and whom the reconciler will push (a parked user
 * waits for an operator or a change of its badge). The partial indexes badge_state_dirty, badge_state_dirty_lane,
 * badge_state_dirty_tenant and badge_state_dirty_tenant_lane are built on exactly this predicate (their migrations are history and spell it out;
 * dirty-set.spec.ts holds them equal), and every query of the dirty set states it unqualified, so the planner can
 * prove that it implies the index predicate and reads the index. A conjunction: ANDed into a WHERE as is.
 */
export const DIRTY_PREDICATE = `desired_revision > pushed_revision AND status <> 'parked'`;

/** The same predicate on a row under an alias, for expressions where a bare column is ambiguous (an upsert's SET
 * beside `excluded`). Never in a WHERE meant to read the dirty-set indexes: there it is DIRTY_PREDICATE. */
export const dirtyPredicateOf = (alias: string): string =>
  DIRTY_PREDICATE.replace(/\b(desired_revision|pushed_revision|status)\b/g, `${alias}.$1`);

/** ingest and the operator resync pg_notify here after a commit that made users dirty; reconcilers LISTEN. */
export const DIRTY_CHANNEL = 'badge_dirty';
