import {
  DEFAULT_RATE_LIMIT_RETRY_MS,
  FEISHU_AUTH_CODES,
  FEISHU_CODE,
  FEISHU_HEADER,
  HTTP_TOO_MANY_REQUESTS,
  MAX_MSG_LENGTH,
  MAX_RATE_LIMIT_RETRY_MS,
} from './feishu.constants';
import { envelopeCode, envelopeMsg, extractLogId, headerValue, isRecord } from './feishu-response';
import type { HttpHeaders, HttpPostResult, HttpResponse } from './http.transport';

export const BADGE_OUTCOMES = [
  'applied',
  'version_conflict',
  'invalid_version',
  'concurrent',
  'no_data',
  'user_invalid',
  'user_invisible',
  'rate_limited',
  'auth',
  'transient',
  'unexpected',
  /** Nothing was sent: the call's deadline (the lease) came first. Never an answer from Feishu. */
  'not_sent',
  /** FEISHU_MODE=shadow: nothing was sent, by design; recorded as what would have been pushed. */
  'shadow',
] as const;
export type BadgeOutcome = (typeof BADGE_OUTCOMES)[number];

export interface BadgeClassification {
  readonly outcome: BadgeOutcome;
  readonly code: number | null;
  readonly httpStatus: number | null;
  readonly msg: string;
  readonly logId: string | null;
  /** version_conflict only, when Feishu's message names the version to beat ("latest version: N"). Digits. */
  readonly latestVersion?: string;
  /** rate_limited only: how long to pause, from x-ogw-ratelimit-reset. */
  readonly retryAfterMs?: number;
}

const BY_CODE: ReadonlyMap<number, BadgeOutcome> = new Map<number, BadgeOutcome>([
  [FEISHU_CODE.BADGE_PC_VERSION_CONFLICT, 'version_conflict'],
  [FEISHU_CODE.BADGE_MOBILE_VERSION_CONFLICT, 'version_conflict'],
  [FEISHU_CODE.BADGE_NO_DATA, 'no_data'],
  [FEISHU_CODE.BADGE_CONCURRENT, 'concurrent'],
  [FEISHU_CODE.BADGE_INVALID_VERSION, 'invalid_version'],
  [FEISHU_CODE.BADGE_USER_INVALID, 'user_invalid'],
  [FEISHU_CODE.BADGE_USER_INVISIBLE, 'user_invisible'],
]);

/**
 * The one place an app_badge/set answer becomes an outcome. Total: any status, headers and body give an
 * outcome. Order matters: 429 first, then 5xx (whatever the body), then the envelope `code` (never `msg`),
 * read at any status because Feishu has answered 99991663 with HTTP 200.
 */
export function classifyBadgeResponse(result: HttpPostResult): BadgeClassification {
  if (result.kind === 'network_error') {
    return { outcome: 'transient', code: null, httpStatus: null, msg: clip(result.message), logId: null };
  }
  const { status, headers, json } = result;
  const code = envelopeCode(json);
  const base = {
    code,
    httpStatus: status,
    msg: clip(envelopeMsg(json) ?? bodyNote(result)),
    logId: extractLogId(headers, json),
  };

  if (status === HTTP_TOO_MANY_REQUESTS || (code === FEISHU_CODE.RATE_LIMITED && !isServerError(status))) {
    return { ...base, outcome: 'rate_limited', retryAfterMs: retryAfterMs(headers) };
  }
  if (isServerError(status)) return { ...base, outcome: 'transient' };
  if (code === null) return { ...base, outcome: 'unexpected' };
  if (code === FEISHU_CODE.OK) return { ...base, outcome: status >= 200 && status < 300 ? 'applied' : 'unexpected' };
  if (FEISHU_AUTH_CODES.has(code)) return { ...base, outcome: 'auth' };

  const outcome = BY_CODE.get(code) ?? 'unexpected';
  if (outcome === 'version_conflict') {
    const latestVersion = parseLatestVersion(json);
    return latestVersion === undefined ? { ...base, outcome } : { ...base, outcome, latestVersion };
  }
  return { ...base, outcome };
}

function isServerError(status: number): boolean {
  return status >= 500 && status <= 599;
}

/** Seconds in x-ogw-ratelimit-reset → ms, capped; absent, negative or garbage → the default. */
export function retryAfterMs(headers: HttpHeaders): number {
  const raw = headerValue(headers, FEISHU_HEADER.RATE_LIMIT_RESET);
  if (raw === undefined || !/^\d+(\.\d+)?$/.test(raw)) return DEFAULT_RATE_LIMIT_RETRY_MS;
  // The pattern admits only decimals, so this is a number; one too big for a double is Infinity, and capped.
  return Math.min(Math.ceil(Number(raw) * 1000), MAX_RATE_LIMIT_RETRY_MS);
}

// "latest version: 1664360599999", "latest_version=…", "Latest Version is …", "\"latest_version\":\"…\"".
const LATEST_VERSION = /latest[\s_-]*version[^0-9a-z]*(?:is[^0-9a-z]*)?(\d{1,32})(?!\d)/i;

export function parseLatestVersion(json: unknown): string | undefined {
  if (!isRecord(json)) return undefined;
  const texts: unknown[] = [json['msg']];
  const error = json['error'];
  if (isRecord(error)) texts.push(error['message']);
  for (const text of texts) {
    if (typeof text !== 'string') continue;
    const match = LATEST_VERSION.exec(text);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

function clip(text: string): string {
  return text.length > MAX_MSG_LENGTH ? `${text.slice(0, MAX_MSG_LENGTH)}…` : text;
}

function bodyNote(r: HttpResponse): string {
  if (r.status >= 300 && r.status < 400) return `HTTP ${r.status}: a redirect (not followed)`;
  if (r.bodyTooLarge) return `HTTP ${r.status} with a body over the size limit (not read)`;
  return r.json === null ? `HTTP ${r.status} with a non-JSON body` : `HTTP ${r.status}`;
}
