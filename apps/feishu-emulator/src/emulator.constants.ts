export const DEFAULTS = {
  port: 18080,
  host: '127.0.0.1',
  appId: 'cli_emulator',
  appSecret: 'emulator-secret',
  defaultTenantKey: 'tenant_emulator',
  verificationToken: 'emulator-verification-token',
  appBadgeSetRateLimit: 50,
  tokenRateLimit: 1000,
  tokenTtlSeconds: 7200,
  // Feishu hands out a new token once less than 30 of its 120 minutes are left.
  tokenRefreshRatio: 0.25,
  appTicketTtlSeconds: 12 * 3600,
  http5xxStatuses: [500, 502, 503] as readonly number[],
  storm429ResetSeconds: 1,
} as const;

export const LIMITS = {
  badgeHistory: 50,
  badgeListDefault: 1000,
  badgeListMax: 100_000,
  rateWindowMs: 1000,
  // int32, like the proto fields behind web_app and gadget
  maxBadgeCount: 2_147_483_647,
  // versions are parsed as int64
  maxVersion: 9_223_372_036_854_775_807n,
  jsonBodyBytes: 1024 * 1024,
  callbackTimeoutMs: 5000,
  shutdownGraceMs: 2000,
  usersOverOneSample: 100,
} as const;

export const PATHS = {
  tenantTokenInternal: '/open-apis/auth/v3/tenant_access_token/internal',
  appTicketResend: '/open-apis/auth/v3/app_ticket/resend',
  appAccessToken: '/open-apis/auth/v3/app_access_token',
  tenantToken: '/open-apis/auth/v3/tenant_access_token',
  appBadgeSet: '/open-apis/application/v6/app_badge/set',
  adminPrefix: '/_emulator',
} as const;

export const ENDPOINTS = {
  tenantTokenInternal: 'tenant_access_token/internal',
  appTicketResend: 'app_ticket/resend',
  appAccessToken: 'app_access_token',
  tenantToken: 'tenant_access_token',
  appBadgeSet: 'app_badge/set',
} as const;
export type EndpointName = (typeof ENDPOINTS)[keyof typeof ENDPOINTS];

export const ENDPOINT_BY_PATH: ReadonlyMap<string, EndpointName> = new Map<string, EndpointName>([
  [PATHS.tenantTokenInternal, ENDPOINTS.tenantTokenInternal],
  [PATHS.appTicketResend, ENDPOINTS.appTicketResend],
  [PATHS.appAccessToken, ENDPOINTS.appAccessToken],
  [PATHS.tenantToken, ENDPOINTS.tenantToken],
  [PATHS.appBadgeSet, ENDPOINTS.appBadgeSet],
]);

export type RateLimitedApi = 'app_badge/set' | 'token';

export const HEADERS = {
  logId: 'x-tt-logid',
  rateLimitLimit: 'x-ogw-ratelimit-limit',
  rateLimitReset: 'x-ogw-ratelimit-reset',
  larkTimestamp: 'x-lark-request-timestamp',
  larkNonce: 'x-lark-request-nonce',
  larkSignature: 'x-lark-signature',
} as const;

export const USER_ID_TYPES = ['open_id', 'union_id', 'user_id'] as const;
export type UserIdType = (typeof USER_ID_TYPES)[number];
export const DEFAULT_USER_ID_TYPE: UserIdType = 'open_id';

export const TOKEN_PREFIX = { tenant: 't-', app: 'a-' } as const;
export const TOKEN_SHAPE = /^[a-z]-[0-9A-Za-z_-]+$/;

export const CODES = {
  ok: 0,
  invalidParam: 10003,
  appTicketInvalid: 10012,
  appSecretInvalid: 10014,
  pcVersionConflict: 213001,
  mobileVersionConflict: 213002,
  noData: 213003,
  concurrentSet: 213004,
  invalidVersion: 213005,
  userStatusInvalid: 213006,
  userInvisible: 213007,
  rateLimited: 99991400,
  tokenMissing: 99991661,
  tokenInvalid: 99991663,
  appTokenInvalid: 99991664,
  tokenMalformed: 99991671,
  fieldValidation: 99992402,
} as const;

export const MESSAGES = {
  tokenOk: 'ok',
  badgeOk: 'success',
  invalidParam: 'invalid param',
  appTicketInvalid: 'app_ticket is invalid',
  appSecretInvalid: 'app secret invalid',
  pcVersionConflict: 'pc version conflict',
  mobileVersionConflict: 'mobile version conflict',
  noData: 'no data',
  concurrentSet: 'set same user data concurrently',
  invalidVersion: 'invalid version',
  userStatusInvalid: 'user status not valid',
  userInvisible: 'user is invisible',
  rateLimited: 'request trigger frequency limit',
  tokenMissing: 'Missing access token for authorization. Please make a request with token attached.',
  tokenInvalid: 'Invalid access token for authorization. Please make a request with token attached.',
  appTokenInvalid: 'Invalid app access token for authorization.',
  tokenMalformed: 'Invalid access token for authorization. The token format is not valid.',
  fieldValidation: 'field validation failed',
} as const;

export const HTTP_REASONS: Readonly<Record<number, string>> = {
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
};

export const TROUBLESHOOTER_BASE = 'https://open.feishu.cn/search?from=openapi';

// Stats keys for requests that got no Feishu answer at all.
export const NO_ANSWER = { hung: 'hung', dropped: 'dropped', aborted: 'aborted' } as const;
