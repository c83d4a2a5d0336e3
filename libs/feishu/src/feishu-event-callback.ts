import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { isRecord } from './feishu-response';

export interface EventCallbackOptions {
  /** When set, the body's token must equal it. */
  readonly verificationToken?: string;
  /** When set, bodies must be encrypted with it; when unset, encrypted bodies are rejected. */
  readonly encryptKey?: string;
}

export type EventCallbackRejection =
  | 'malformed'
  | 'bad_token'
  | 'undecryptable'
  /** An encrypted body arrived but no encrypt key is configured. */
  | 'encrypt_key_missing'
  /** A plaintext body arrived although an encrypt key is configured. */
  | 'not_encrypted';

/** What identifies and dates an event: v1 `uuid` and `ts` (seconds), v2 `header.event_id` and `create_time` (ms). */
export interface EventMeta {
  readonly eventId?: string;
  /** When Feishu created the event, ms since the epoch. */
  readonly createdAtMs?: number;
}

export type EventCallback =
  | { readonly kind: 'challenge'; readonly challenge: string }
  | ({ readonly kind: 'app_ticket'; readonly appId: string; readonly ticket: string } & EventMeta)
  | ({ readonly kind: 'ignored'; readonly eventType: string } & EventMeta)
  | { readonly kind: 'rejected'; readonly reason: EventCallbackRejection };

/**
 * Decodes a POST to the event callback: the url_verification handshake, app_ticket events (v1 and v2 schema),
 * anything else ignored. `rawBody` may be the parsed JSON, its text, or its bytes. Pure; never throws.
 */
export function decodeEventCallback(rawBody: unknown, opts: EventCallbackOptions): EventCallback {
  const outer = parseBody(rawBody);
  if (!isRecord(outer)) return rejected('malformed');

  let body: Record<string, unknown>;
  if ('encrypt' in outer) {
    if (!opts.encryptKey) return rejected('encrypt_key_missing');
    if (typeof outer['encrypt'] !== 'string') return rejected('malformed');
    const plain = decryptEventBody(outer['encrypt'], opts.encryptKey);
    if (plain === null) return rejected('undecryptable');
    const inner = parseBody(plain);
    if (!isRecord(inner)) return rejected('undecryptable');
    body = inner;
  } else {
    if (opts.encryptKey) return rejected('not_encrypted');
    body = outer;
  }

  if (body['schema'] === '2.0') return decodeV2(body, opts);
  return decodeV1(body, opts);
}

function decodeV1(body: Record<string, unknown>, opts: EventCallbackOptions): EventCallback {
  if (!tokenMatches(body['token'], opts)) return rejected('bad_token');
  if (body['type'] === 'url_verification') {
    return typeof body['challenge'] === 'string' ? { kind: 'challenge', challenge: body['challenge'] } : rejected('malformed');
  }
  const event = body['event'];
  if (body['type'] !== 'event_callback' || !isRecord(event) || typeof event['type'] !== 'string') return rejected('malformed');
  const meta = eventMeta(body['uuid'], body['ts'], 1000);
  if (event['type'] !== 'app_ticket') return { kind: 'ignored', eventType: event['type'], ...meta };
  return appTicket(event['app_id'], event['app_ticket'], meta);
}

function decodeV2(body: Record<string, unknown>, opts: EventCallbackOptions): EventCallback {
  const header = body['header'];
  if (!isRecord(header)) return rejected('malformed');
  if (!tokenMatches(header['token'], opts)) return rejected('bad_token');
  if (typeof header['event_type'] !== 'string') return rejected('malformed');
  const meta = eventMeta(header['event_id'], header['create_time'], 1);
  if (header['event_type'] !== 'app_ticket') return { kind: 'ignored', eventType: header['event_type'], ...meta };
  const event = body['event'];
  if (!isRecord(event)) return rejected('malformed');
  return appTicket(header['app_id'] ?? event['app_id'], event['app_ticket'], meta);
}

function appTicket(appId: unknown, ticket: unknown, meta: EventMeta): EventCallback {
  if (typeof appId !== 'string' || appId === '' || typeof ticket !== 'string' || ticket === '') return rejected('malformed');
  return { kind: 'app_ticket', appId, ticket, ...meta };
}

const MAX_EVENT_ID_LENGTH = 128;

/** Optional fields: an id that is not a short string, or a time that is not a number, is left out. */
function eventMeta(id: unknown, time: unknown, unitMs: number): EventMeta {
  const meta: { eventId?: string; createdAtMs?: number } = {};
  if (typeof id === 'string' && id !== '' && id.length <= MAX_EVENT_ID_LENGTH) meta.eventId = id;
  const t = typeof time === 'string' && /^\d{1,16}(\.\d+)?$/.test(time) ? Number(time) * unitMs : typeof time === 'number' ? time * unitMs : NaN;
  if (Number.isFinite(t) && t > 0) meta.createdAtMs = Math.round(t);
  return meta;
}

export interface SignedRequest {
  /** `X-Lark-Request-Timestamp`: seconds since the epoch. */
  readonly timestamp: string | undefined;
  /** `X-Lark-Request-Nonce`. */
  readonly nonce: string | undefined;
  /** `X-Lark-Signature`: hex sha256 of timestamp + nonce + encrypt key + raw body. */
  readonly signature: string | undefined;
  /** The body exactly as received: never a re-serialised object (a reordered key or space breaks the hash). */
  readonly rawBody: Buffer;
}

export type SignatureVerdict = 'ok' | 'unsigned' | 'bad_signature' | 'stale_timestamp';

/** Feishu resends a failed delivery with a fresh timestamp and signature, so a request older than this is a replay. */
export const SIGNATURE_MAX_SKEW_MS = 5 * 60_000;

/**
 * Checks `X-Lark-Signature`, then that the signed timestamp is within `maxSkewMs` of `nowMs` either way. The
 * comparison is of sha256 digests of both hex strings, in constant time whatever their length.
 */
export function verifyEventSignature(req: SignedRequest, encryptKey: string, nowMs: number, maxSkewMs = SIGNATURE_MAX_SKEW_MS): SignatureVerdict {
  const { timestamp, nonce, signature, rawBody } = req;
  if (!timestamp || nonce === undefined || !signature) return 'unsigned';
  const expected = createHash('sha256').update(timestamp + nonce + encryptKey, 'utf8').update(rawBody).digest('hex');
  if (!timingSafeEqual(sha256(signature.trim().toLowerCase()), sha256(expected))) return 'bad_signature';
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs - Number(timestamp) * 1000) > maxSkewMs) return 'stale_timestamp';
  return 'ok';
}

function tokenMatches(token: unknown, opts: EventCallbackOptions): boolean {
  if (opts.verificationToken === undefined || opts.verificationToken === '') return true;
  if (typeof token !== 'string') return false;
  // Hash first so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(sha256(token), sha256(opts.verificationToken));
}

/**
 * Feishu's scheme, as the official SDK's AESCipher: AES-256-CBC, key = sha256(encryptKey), IV = the first 16
 * bytes of the base64-decoded `encrypt`, PKCS#7 padding, UTF-8 plaintext. Null when it does not decrypt.
 */
export function decryptEventBody(encrypt: string, encryptKey: string): string | null {
  const data = Buffer.from(encrypt, 'base64');
  if (data.length < 32 || data.length % 16 !== 0) return null;
  try {
    const decipher = createDecipheriv('aes-256-cbc', sha256(encryptKey), data.subarray(0, 16));
    return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function parseBody(raw: unknown): unknown {
  if (typeof raw !== 'string' && !Buffer.isBuffer(raw) && !(raw instanceof Uint8Array)) return raw;
  try {
    return JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function rejected(reason: EventCallbackRejection): EventCallback {
  return { kind: 'rejected', reason };
}
