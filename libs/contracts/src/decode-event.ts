import {
  BadgeEvent,
  Counts,
  FIELDS,
  MAX_COUNT,
  MAX_EVENT_BYTES,
  MAX_ID_LENGTH,
  MAX_SEQUENCE,
  SIDES,
  SideCounts,
  SOURCE_PATTERN,
  USER_ID_TYPES,
  UserIdType,
} from './badge-event';
import { storableText } from './storable-text';

/** Why a message was refused: which field, which rule, and (a bounded excerpt of) the value seen. */
export interface Rejection {
  field: string;
  rule: string;
  value?: string;
}

/** Whose event a refused message was meant to be, when that much can be read: lets the audit trail show it. */
export interface RejectedFor {
  userId: string;
  userIdType: UserIdType;
  tenantKey: string;
  eventId: string | null;
  source: string | null;
}

export type AppType = 'custom' | 'store';

/** What the contract's rules depend on beyond the message: the app's type decides whether tenantKey is allowed. */
export interface DecodeOptions {
  appType: AppType;
}

export type DecodeResult = { ok: true; event: BadgeEvent } | { ok: false; rejection: Rejection; rejectedFor?: RejectedFor };

const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const EXCERPT = 120;

function excerpt(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    // Too deep to serialise; String() would recurse just as deep (Array.prototype.join) and throw again.
    s = Object.prototype.toString.call(v);
  }
  // The cut may split a surrogate pair; storableText escapes the half left over.
  return s.length > EXCERPT ? storableText(`${s.slice(0, EXCERPT)}…`) : s;
}

class Refused extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.rule);
  }
}
/** A field path may hold a key of the message (`counts.pc.<key>`): the rejection is stored, logged and sent as a
 * header, so it must be storable text whatever the key held. */
const refuse = (field: string, rule: string, value?: unknown): never => {
  const f = storableText(field);
  throw new Refused(value === undefined ? { field: f, rule } : { field: f, rule, value: excerpt(value) });
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function boundedString(o: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) refuse(field, 'required');
    return undefined;
  }
  if (typeof v !== 'string') return refuse(field, 'must be a string', v);
  if (v.length === 0) return refuse(field, 'must not be empty');
  if (v.length > MAX_ID_LENGTH) return refuse(field, `at most ${MAX_ID_LENGTH} characters`, v);
  if (/[\u0000-\u001f\u007f]/.test(v)) return refuse(field, 'must not contain control characters', v);
  // A lone surrogate cannot be stored: it reaches Postgres as U+FFFD, and distinct ids would become one.
  if (/[\ud800-\udfff]/u.test(v)) return refuse(field, 'must be well-formed Unicode (no lone surrogates)', v);
  return v;
}

function sideCounts(v: unknown, side: string): SideCounts {
  if (v === undefined || v === null) return { web_app: 0, gadget: 0 };
  if (!isObject(v)) return refuse(`counts.${side}`, 'must be an object', v);
  for (const k of Object.keys(v)) {
    if (!(FIELDS as readonly string[]).includes(k)) refuse(`counts.${side}.${k}`, 'unknown field (allowed: web_app, gadget)');
  }
  const out: SideCounts = { web_app: 0, gadget: 0 };
  for (const f of FIELDS) {
    const n = v[f];
    if (n === undefined || n === null) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_COUNT) {
      refuse(`counts.${side}.${f}`, `integer 0..${MAX_COUNT}`, n);
    }
    out[f] = n as number;
  }
  return out;
}

function counts(v: unknown): Counts {
  if (v === undefined || v === null) return refuse('counts', 'required');
  if (!isObject(v)) return refuse('counts', 'must be an object', v);
  for (const k of Object.keys(v)) {
    if (!(SIDES as readonly string[]).includes(k)) refuse(`counts.${k}`, 'unknown side (allowed: pc, mobile)');
  }
  return { pc: sideCounts(v.pc, 'pc'), mobile: sideCounts(v.mobile, 'mobile') };
}

/**
 * A custom app has one tenant, kept as '': a tenantKey would make a second row pushing to the same Feishu badge.
 * A store app cannot push without knowing the tenant (its token is per tenant).
 */
function tenantKeyOf(o: Record<string, unknown>, appType: AppType): string {
  if (appType === 'custom') {
    if (o.tenantKey !== undefined && o.tenantKey !== null && o.tenantKey !== '') {
      refuse('tenantKey', 'must be absent for a custom app (FEISHU_APP_TYPE=custom)', o.tenantKey);
    }
    return '';
  }
  const tenantKey = boundedString(o, 'tenantKey', false);
  if (tenantKey === undefined) refuse('tenantKey', 'required for a store app (FEISHU_APP_TYPE=store)');
  return tenantKey!;
}

/** Validates an already-parsed JSON value against the v1 contract. */
export function validateEvent(value: unknown, options: DecodeOptions): DecodeResult {
  try {
    if (!isObject(value)) refuse('$', 'must be a JSON object', value);
    const o = value as Record<string, unknown>;
    const eventId = boundedString(o, 'eventId', true)!;
    const userId = boundedString(o, 'userId', true)!;
    const tenantKey = tenantKeyOf(o, options.appType);
    let userIdType: UserIdType = 'open_id';
    if (o.userIdType !== undefined && o.userIdType !== null) {
      if (typeof o.userIdType !== 'string' || !(USER_ID_TYPES as readonly string[]).includes(o.userIdType)) {
        refuse('userIdType', `one of ${USER_ID_TYPES.join(', ')}`, o.userIdType);
      }
      userIdType = o.userIdType as UserIdType;
    }
    const source = o.source;
    if (source === undefined || source === null) refuse('source', 'required');
    if (typeof source !== 'string' || !SOURCE_PATTERN.test(source)) {
      refuse('source', `must match ${SOURCE_PATTERN.source}`, source);
    }
    const sequence = o.sequence;
    if (sequence === undefined || sequence === null) refuse('sequence', 'required');
    if (typeof sequence !== 'number' || !Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
      refuse('sequence', `integer 0..${MAX_SEQUENCE}`, sequence);
    }
    const c = counts(o.counts);
    const occurredAtRaw = o.occurredAt;
    if (occurredAtRaw === undefined || occurredAtRaw === null) refuse('occurredAt', 'required');
    if (typeof occurredAtRaw !== 'string' || !ISO_8601.test(occurredAtRaw)) {
      refuse('occurredAt', 'ISO-8601 date-time with a time zone', occurredAtRaw);
    }
    const occurredAt = new Date(occurredAtRaw as string);
    if (Number.isNaN(occurredAt.getTime())) refuse('occurredAt', 'a valid date-time', occurredAtRaw);
    // Postgres stores neither year 0 nor, in this form, years past 9999 (an offset can push 9999 over).
    const year = occurredAt.getUTCFullYear();
    if (year < 1 || year > 9999) refuse('occurredAt', 'a date-time in the years 0001..9999 (UTC)', occurredAtRaw);
    return {
      ok: true,
      event: { eventId, userId, userIdType, tenantKey, source: source as string, sequence: sequence as number, counts: c, occurredAt },
    };
  } catch (e) {
    if (e instanceof Refused) {
      const rejectedFor = readableIdentity(value, options.appType);
      return rejectedFor ? { ok: false, rejection: e.rejection, rejectedFor } : { ok: false, rejection: e.rejection };
    }
    throw e;
  }
}

/** Whose event it was: for a custom app that is the user of tenant '' whatever tenantKey the message carried. */
function readableIdentity(value: unknown, appType: AppType): RejectedFor | undefined {
  if (!isObject(value)) return undefined;
  const ok = (v: unknown): v is string =>
    typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH && !/[\u0000-\u001f\u007f]/.test(v) && storableText(v) === v;
  if (!ok(value.userId)) return undefined;
  const type = (USER_ID_TYPES as readonly unknown[]).includes(value.userIdType ?? 'open_id') ? ((value.userIdType ?? 'open_id') as UserIdType) : undefined;
  if (type === undefined) return undefined;
  if (appType === 'store' && !ok(value.tenantKey)) return undefined;
  return {
    userId: value.userId,
    userIdType: type,
    tenantKey: appType === 'store' ? (value.tenantKey as string) : '',
    eventId: ok(value.eventId) ? value.eventId : null,
    source: typeof value.source === 'string' && SOURCE_PATTERN.test(value.source) ? value.source : null,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a raw Kafka message value. Never throws. */
export function decodeEvent(raw: Buffer | Uint8Array | null | undefined, options: DecodeOptions): DecodeResult {
  if (raw === null || raw === undefined || raw.length === 0) {
    return { ok: false, rejection: { field: '$', rule: 'message has no value' } };
  }
  if (raw.length > MAX_EVENT_BYTES) {
    return { ok: false, rejection: { field: '$', rule: `at most ${MAX_EVENT_BYTES} bytes`, value: String(raw.length) } };
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, rejection: { field: '$', rule: 'must be UTF-8' } };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const why = e instanceof RangeError ? 'JSON nested too deeply' : 'must be JSON';
    return { ok: false, rejection: { field: '$', rule: why, value: excerpt(text) } };
  }
  return validateEvent(value, options);
}

export function describeRejection(r: Rejection): string {
  return r.value === undefined ? `${r.field}: ${r.rule}` : `${r.field}: ${r.rule} (got ${r.value})`;
}
