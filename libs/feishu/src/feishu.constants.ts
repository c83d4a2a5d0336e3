/** Every Feishu path, code, header and default the client relies on. Sources: /work/shared/reference/. */

export const FEISHU_DEFAULT_BASE_URL = 'https://open.feishu.cn';

export const FEISHU_PATH = {
  TENANT_ACCESS_TOKEN_INTERNAL: '/open-apis/auth/v3/tenant_access_token/internal',
  APP_TICKET_RESEND: '/open-apis/auth/v3/app_ticket/resend',
  APP_ACCESS_TOKEN: '/open-apis/auth/v3/app_access_token',
  TENANT_ACCESS_TOKEN: '/open-apis/auth/v3/tenant_access_token',
  APP_BADGE_SET: '/open-apis/application/v6/app_badge/set',
} as const;

export const FEISHU_CODE = {
  OK: 0,
  APP_TICKET_INVALID: 10012,
  BADGE_PC_VERSION_CONFLICT: 213001,
  BADGE_MOBILE_VERSION_CONFLICT: 213002,
  BADGE_NO_DATA: 213003,
  BADGE_CONCURRENT: 213004,
  BADGE_INVALID_VERSION: 213005,
  BADGE_USER_INVALID: 213006,
  BADGE_USER_INVISIBLE: 213007,
  RATE_LIMITED: 99991400,
  AUTH_TOKEN_MISSING: 99991661,
  AUTH_TENANT_TOKEN_INVALID: 99991663,
  AUTH_APP_TOKEN_INVALID: 99991664,
  AUTH_TOKEN_MALFORMED: 99991671,
} as const;

/** Codes a business call answers a bad token with, at HTTP 400 or (seen once) 200: refresh the token, retry once. */
export const FEISHU_AUTH_CODES: ReadonlySet<number> = new Set([
  FEISHU_CODE.AUTH_TOKEN_MISSING,
  FEISHU_CODE.AUTH_TENANT_TOKEN_INVALID,
  FEISHU_CODE.AUTH_APP_TOKEN_INVALID,
  FEISHU_CODE.AUTH_TOKEN_MALFORMED,
]);

export const FEISHU_HEADER = {
  LOG_ID: 'x-tt-logid',
  RATE_LIMIT_RESET: 'x-ogw-ratelimit-reset',
  RATE_LIMIT_LIMIT: 'x-ogw-ratelimit-limit',
} as const;

export const HTTP_TOO_MANY_REQUESTS = 429;

export const DEFAULT_BADGE_TIMEOUT_MS = 5_000;
export const DEFAULT_TOKEN_TIMEOUT_MS = 5_000;
/** Refresh this long before expiry, capped at half the token's lifetime. */
export const DEFAULT_TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** After a failed early refresh, keep using the cached token and try again after this long. */
export const TOKEN_REFRESH_RETRY_MS = 10_000;
/** Throttle for the automatic app_ticket resend a missing or invalid ticket triggers. */
export const DEFAULT_APP_TICKET_RESEND_INTERVAL_MS = 30_000;
/** Wait used when a rate-limit answer has no usable x-ogw-ratelimit-reset. */
export const DEFAULT_RATE_LIMIT_RETRY_MS = 1_000;
export const MAX_RATE_LIMIT_RETRY_MS = 60_000;
/** Feishu messages are short; anything longer is cut so a misbehaving proxy cannot flood logs or the audit trail. */
export const MAX_MSG_LENGTH = 500;
