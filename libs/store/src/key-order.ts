/**
 * How every statement that writes several users' badge_state rows locks them: in key order, one order for all, so
 * no two writers deadlock (ingest's batches, completions, lease release, the shadow-to-live switch). Ends a SELECT
 * over badge_state aliased `alias`; the write then reaches its rows only through that SELECT.
 */
export const lockInKeyOrder = (alias: string): string =>
  `ORDER BY ${alias}.tenant_key, ${alias}.user_id_type, ${alias}.user_id FOR UPDATE OF ${alias}`;
