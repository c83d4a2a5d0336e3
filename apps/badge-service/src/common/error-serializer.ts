import { redactSecrets } from '@badges/store';
import { stdSerializers } from 'pino';

/**
 * Fields never logged from an error. TypeORM's QueryFailedError carries the bound `parameters` of the failed
 * statement (badge counts, user ids, an app_ticket) and copies every field of the driver's error onto itself:
 * `detail` and `where` quote row values ("Key (x)=(...) already exists"). A URL parse error carries the URL as `input`.
 */
const DROPPED = new Set(['parameters', 'detail', 'where', 'input', 'password', 'connectionString', 'raw']);
const MAX_QUERY = 2000;

/** pino's error serializer, then the fields above dropped (at any depth) and connection URLs' passwords redacted. */
export function errorSerializer(err: unknown): unknown {
  return scrub(stdSerializers.err(err as Error), 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (DROPPED.has(key)) continue;
    let v = (value as Record<string, unknown>)[key];
    if (v instanceof Error) v = stdSerializers.err(v);
    if (key === 'query' && typeof v === 'string' && v.length > MAX_QUERY) v = `${v.slice(0, MAX_QUERY)}…`;
    out[key] = scrub(v, depth + 1);
  }
  return out;
}
