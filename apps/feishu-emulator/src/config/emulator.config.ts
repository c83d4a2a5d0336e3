import { z } from 'zod';
import { DEFAULTS } from '../emulator.constants';

export interface FaultSettings {
  http5xxRate: number;
  http5xxStatuses: number[];
  ambiguousRate: number;
  latencyMs: number;
  latencyJitterMs: number;
  hangRate: number;
  dropRate: number;
}

export interface StoreAppConfig {
  appId: string;
  appSecret: string;
  /** Empty: any tenant key is accepted. */
  tenantKeys: string[];
}

export interface EmulatorConfig {
  port: number;
  host: string;
  customApp: { appId: string; appSecret: string };
  defaultTenantKey: string;
  storeApp: StoreAppConfig | null;
  eventCallback: { url: string | null; verificationToken: string; encryptKey: string | null };
  tokens: {
    ttlSeconds: number;
    refreshRatio: number;
    appTicketTtlSeconds: number;
    errorHttpStatus: 200 | 400;
  };
  rateLimits: { appBadgeSet: number; token: number };
  invalidUsers: string[];
  invisibleUsers: string[];
  latestVersionInMessage: boolean;
  faults: FaultSettings;
  logRequests: boolean;
}

export class EmulatorConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid feishu-emulator configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EmulatorConfigError';
  }
}

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const share = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a number from 0 to 1')
  .transform(Number);

const list = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const statusList = list.pipe(
  z.array(z.enum(['500', '502', '503', '504']).transform(Number)).min(1, 'must list at least one of 500, 502, 503, 504'),
);

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

// Keys are the environment variable names, so every issue path names the bad variable.
const envSchema = z.object({
  EMULATOR_PORT: wholeNumber(0, 65535).default(DEFAULTS.port),
  EMULATOR_HOST: z.string().trim().min(1).default(DEFAULTS.host),
  EMULATOR_APP_ID: z.string().trim().min(1).default(DEFAULTS.appId),
  EMULATOR_APP_SECRET: z.string().min(1).default(DEFAULTS.appSecret),
  EMULATOR_TENANT_KEY: z.string().trim().min(1).default(DEFAULTS.defaultTenantKey),
  EMULATOR_RATE_LIMIT: wholeNumber(0, 1_000_000).default(DEFAULTS.appBadgeSetRateLimit),
  EMULATOR_TOKEN_RATE_LIMIT: wholeNumber(0, 1_000_000).default(DEFAULTS.tokenRateLimit),
  EMULATOR_TOKEN_TTL_SECONDS: wholeNumber(1, 30 * 24 * 3600).default(DEFAULTS.tokenTtlSeconds),
  EMULATOR_TOKEN_REFRESH_RATIO: share.default(DEFAULTS.tokenRefreshRatio),
  EMULATOR_APP_TICKET_TTL_SECONDS: wholeNumber(1, 30 * 24 * 3600).default(DEFAULTS.appTicketTtlSeconds),
  EMULATOR_TOKEN_ERROR_HTTP_STATUS: z
    .enum(['200', '400'], { error: 'must be 200 or 400' })
    .transform((value) => (value === '400' ? 400 : 200))
    .default(200),
  EMULATOR_STORE_APP_ID: z.string().trim().min(1).optional(),
  EMULATOR_STORE_APP_SECRET: z.string().min(1).optional(),
  EMULATOR_STORE_TENANT_KEYS: list.default([]),
  EMULATOR_EVENT_CALLBACK_URL: httpUrl.optional(),
  EMULATOR_VERIFICATION_TOKEN: z.string().default(DEFAULTS.verificationToken),
  EMULATOR_ENCRYPT_KEY: z.string().min(1).optional(),
  EMULATOR_INVALID_USERS: list.default([]),
  EMULATOR_INVISIBLE_USERS: list.default([]),
  EMULATOR_LATEST_VERSION_IN_MESSAGE: z.stringbool().default(true),
  EMULATOR_FAULT_5XX_RATE: share.default(0),
  EMULATOR_FAULT_5XX_STATUSES: statusList.default([...DEFAULTS.http5xxStatuses]),
  EMULATOR_FAULT_AMBIGUOUS_RATE: share.default(0),
  EMULATOR_LATENCY_MS: wholeNumber(0, 600_000).default(0),
  EMULATOR_LATENCY_JITTER_MS: wholeNumber(0, 600_000).default(0),
  EMULATOR_FAULT_HANG_RATE: share.default(0),
  EMULATOR_FAULT_DROP_RATE: share.default(0),
  EMULATOR_LOG_REQUESTS: z.stringbool().default(false),
});

type EnvKey = keyof typeof envSchema.shape;
const ENV_KEYS = Object.keys(envSchema.shape) as EnvKey[];
const FAULT_SHARE_KEYS: EnvKey[] = [
  'EMULATOR_FAULT_5XX_RATE',
  'EMULATOR_FAULT_AMBIGUOUS_RATE',
  'EMULATOR_FAULT_HANG_RATE',
  'EMULATOR_FAULT_DROP_RATE',
];

/** Reads only the EMULATOR_* variables it knows; an empty value counts as unset. */
export function parseEmulatorConfig(env: Readonly<Record<string, string | undefined>>): EmulatorConfig {
  const known: Partial<Record<EnvKey, string>> = {};
  for (const key of ENV_KEYS) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') known[key] = value;
  }

  const problems: string[] = [];
  const parsed = envSchema.safeParse(known);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${String(issue.path[0])}: ${issue.message}`);
  }
  problems.push(...crossFieldProblems(known));
  if (!parsed.success || problems.length > 0) throw new EmulatorConfigError(problems);

  const e = parsed.data;
  return {
    port: e.EMULATOR_PORT,
    host: e.EMULATOR_HOST,
    customApp: { appId: e.EMULATOR_APP_ID, appSecret: e.EMULATOR_APP_SECRET },
    defaultTenantKey: e.EMULATOR_TENANT_KEY,
    storeApp:
      e.EMULATOR_STORE_APP_ID && e.EMULATOR_STORE_APP_SECRET
        ? { appId: e.EMULATOR_STORE_APP_ID, appSecret: e.EMULATOR_STORE_APP_SECRET, tenantKeys: e.EMULATOR_STORE_TENANT_KEYS }
        : null,
    eventCallback: {
      url: e.EMULATOR_EVENT_CALLBACK_URL ?? null,
      verificationToken: e.EMULATOR_VERIFICATION_TOKEN,
      encryptKey: e.EMULATOR_ENCRYPT_KEY ?? null,
    },
    tokens: {
      ttlSeconds: e.EMULATOR_TOKEN_TTL_SECONDS,
      refreshRatio: e.EMULATOR_TOKEN_REFRESH_RATIO,
      appTicketTtlSeconds: e.EMULATOR_APP_TICKET_TTL_SECONDS,
      errorHttpStatus: e.EMULATOR_TOKEN_ERROR_HTTP_STATUS,
    },
    rateLimits: { appBadgeSet: e.EMULATOR_RATE_LIMIT, token: e.EMULATOR_TOKEN_RATE_LIMIT },
    invalidUsers: e.EMULATOR_INVALID_USERS,
    invisibleUsers: e.EMULATOR_INVISIBLE_USERS,
    latestVersionInMessage: e.EMULATOR_LATEST_VERSION_IN_MESSAGE,
    faults: {
      http5xxRate: e.EMULATOR_FAULT_5XX_RATE,
      http5xxStatuses: e.EMULATOR_FAULT_5XX_STATUSES,
      ambiguousRate: e.EMULATOR_FAULT_AMBIGUOUS_RATE,
      latencyMs: e.EMULATOR_LATENCY_MS,
      latencyJitterMs: e.EMULATOR_LATENCY_JITTER_MS,
      hangRate: e.EMULATOR_FAULT_HANG_RATE,
      dropRate: e.EMULATOR_FAULT_DROP_RATE,
    },
    logRequests: e.EMULATOR_LOG_REQUESTS,
  };
}

// Checked on the raw text so they are reported together with the per-variable problems.
function crossFieldProblems(env: Partial<Record<EnvKey, string>>): string[] {
  const problems: string[] = [];
  const hasStoreId = env.EMULATOR_STORE_APP_ID !== undefined;
  const hasStoreSecret = env.EMULATOR_STORE_APP_SECRET !== undefined;
  if (hasStoreId && !hasStoreSecret) problems.push('EMULATOR_STORE_APP_SECRET: required when EMULATOR_STORE_APP_ID is set');
  if (hasStoreSecret && !hasStoreId) problems.push('EMULATOR_STORE_APP_ID: required when EMULATOR_STORE_APP_SECRET is set');
  if (hasStoreId && env.EMULATOR_STORE_APP_ID?.trim() === (env.EMULATOR_APP_ID?.trim() ?? DEFAULTS.appId)) {
    problems.push('EMULATOR_STORE_APP_ID: must differ from EMULATOR_APP_ID');
  }
  const shares = FAULT_SHARE_KEYS.map((key) => Number(env[key] ?? 0));
  if (shares.every((value) => Number.isFinite(value)) && shares.reduce((sum, value) => sum + value, 0) > 1 + 1e-9) {
    problems.push(`${FAULT_SHARE_KEYS.join(', ')}: together must not exceed 1`);
  }
  return problems;
}

/** The only place that reads process.env. */
export function loadEmulatorConfig(): EmulatorConfig {
  return parseEmulatorConfig(process.env);
}
