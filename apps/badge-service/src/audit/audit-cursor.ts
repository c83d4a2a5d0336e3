import { SOURCE_PATTERN } from '@badges/contracts';
import { BADGE_STATUSES, BadgeStatus, HistoryPosition, USER_ID_TYPES, UserKey } from '@badges/store';
import { AUDIT } from './audit.constants';

/*
 * Cursors are opaque to clients: base64url of a small JSON array whose first element names the list it belongs to,
 * so a cursor of one list (or of another status) is refused by the other.
 */

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Postgres keeps microseconds; the cursor must too, or keyset comparisons skip or repeat rows. */
const MICROS_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BIGINT = /^\d{1,19}$/;
const MAX_BIGINT = 2n ** 63n - 1n;

const encode = (parts: unknown[]) => Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');

function decode(cursor: unknown): unknown[] | null {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > AUDIT.maxCursorLength || !BASE64URL.test(cursor)) {
    return null;
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length <= AUDIT.maxIdLength;

export function encodeHistoryCursor(p: HistoryPosition): string {
  return encode(['h', p.at, p.id]);
}

export function decodeHistoryCursor(cursor: unknown): HistoryPosition | null {
  const parts = decode(cursor);
  if (!parts || parts.length !== 3 || parts[0] !== 'h') return null;
  const [, at, id] = parts;
  if (typeof at !== 'string' || !MICROS_UTC.test(at) || Number.isNaN(Date.parse(at))) return null;
  if (typeof id !== 'string' || !BIGINT.test(id) || BigInt(id) > MAX_BIGINT) return null;
  return { at, id };
}

export function encodeStatusCursor(status: BadgeStatus, last: UserKey): string {
  return encode(['s', status, last.tenantKey, last.userIdType, last.userId]);
}

/** The last key of the previous page, or null when the cursor is malformed or belongs to another status. */
export function decodeStatusCursor(cursor: unknown, status: BadgeStatus): UserKey | null {
  const parts = decode(cursor);
  if (!parts || parts.length !== 5 || parts[0] !== 's' || parts[1] !== status) return null;
  const [, , tenantKey, userIdType, userId] = parts;
  if (!BADGE_STATUSES.includes(status) || !isId(tenantKey) || !isId(userId) || !isId(userIdType)) return null;
  if (!(USER_ID_TYPES as readonly string[]).includes(userIdType)) return null;
  return { tenantKey, userIdType, userId };
}

/** The last source of the previous page of a user's sources. */
export function encodeSourcesCursor(lastSource: string): string {
  return encode(['src', lastSource]);
}

export function decodeSourcesCursor(cursor: unknown): string | null {
  const parts = decode(cursor);
  if (!parts || parts.length !== 2 || parts[0] !== 'src') return null;
  const source = parts[1];
  return typeof source === 'string' && SOURCE_PATTERN.test(source) ? source : null;
}
