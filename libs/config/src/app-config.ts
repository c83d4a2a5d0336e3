import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseAuditTokensFile, plainAuditTokens, ScopedAuditToken } from './audit-tokens';

export const ROLES = ['ingest', 'reconcile', 'api'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Decimal digits only (surrounding spaces allowed). `z.coerce.number()` read a blank value as 0, which for several
 * variables means "off" (AUDIT_API_RATE_LIMIT, DATABASE_QUERY_TIMEOUT_MS, PUSH_MIN_INTERVAL_MS) or "any port"
 * (HTTP_PORT), and took `0x10` or `1e3` for 16 and 1000: a typo must stop start-up, not turn a limit off.
 */
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** A plain decimal fraction (`0.1`, `.25`, `1`), no exponent or hex. */
const decimal = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^(\d+(\.\d*)?|\.\d+)$/, 'must be a decimal number')
    .transform(Number)
    .pipe(z.number().min(min).max(max));
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const csv = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));
const postgresUrl = z
  .string()
  .refine((u) => /^postgres(ql)?:\/\/[^/]+\/[A-Za-z_][A-Za-z0-9_]{0,62}(\?.*)?$/.test(u), {
    message: 'must be postgres://user@host:port/database (database name: letters, digits, underscore)',
  });

// Kafka security and secret files
/** Secrets that may also come from a file named by `<NAME>_FILE` (Docker/Kubernetes secrets). */
export const SECRET_VARIABLES = [
  'FEISHU_APP_SECRET',
  'FEISHU_VERIFICATION_TOKEN',
  'FEISHU_ENCRYPT_KEY',
  'AUDIT_API_TOKENS',
  'KAFKA_SASL_PASSWORD',
  'DATABASE_URL',
] as const;
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
const path = z.string().min(1);
const KAFKA_SECURITY_SCHEMA = {
  KAFKA_SSL: bool.default(false),
  KAFKA_SSL_CA_FILE: path.optional(),
  KAFKA_SSL_CERT_FILE: path.optional(),
  KAFKA_SSL_KEY_FILE: path.optional(),
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(SASL_MECHANISMS, { message: 'must be plain, scram-sha-256 or scram-sha-512' }))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).max(1024).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).max(4096).optional(),
  KAFKA_CREATE_TOPICS: bool.default(true),
  FEISHU_APP_SECRET_FILE: path.optional(),
  FEISHU_VERIFICATION_TOKEN_FILE: path.optional(),
  FEISHU_ENCRYPT_KEY_FILE: path.optional(),
  AUDIT_API_TOKENS_FILE: path.optional(),
  KAFKA_SASL_PASSWORD_FILE: path.optional(),
  DATABASE_URL_FILE: path.optional(),
};

export interface KafkaSecurity {
  /** false: plaintext. Otherwise node tls options; `ca` absent means the system CAs. */
  ssl: false | { ca?: string; cert?: string; key?: string };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

const fileError = (e: unknown) => (e as NodeJS.ErrnoException).code ?? 'unreadable';
/** One trailing newline (LF or CRLF) is what editors and `echo` add; anything else is kept as written. */
const trimOneNewline = (s: string) => s.replace(/\r?\n$/, '');

/**
 * Replaces each `<NAME>_FILE` of `raw` by `<NAME>` read from that file. Problems name the variables, never a value.
 * Returns the names whose value came from a file, so later problems can point at the `_FILE` variable.
 */
function readSecretFiles(raw: Record<string, string>, problems: string[]): Set<string> {
  const fromFile = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const file = raw[`${name}_FILE`];
    if (file === undefined) continue;
    delete raw[`${name}_FILE`];
    if (raw[name] !== undefined) {
      problems.push(`${name}, ${name}_FILE: both are set; set only one`);
      delete raw[name];
      continue;
    }
    let text: string;
    try {
      text = trimOneNewline(readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(`${name}_FILE: cannot read the file (${fileError(e)})`);
      continue;
    }
    if (text === '') {
      problems.push(`${name}_FILE: the file is empty`);
      continue;
    }
    raw[name] = text;
    fromFile.add(name);
  }
  return fromFile;
}

/** Reads a PEM file named by `name`; problems name the variable and never show the content. */
function readPem(name: string, file: string | undefined, want: RegExp, what: string, problems: string[]): string | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`${name}: cannot read the file (${fileError(e)})`);
    return undefined;
  }
  if (!want.test(text)) {
    problems.push(`${name}: not a PEM file with ${what}`);
    return undefined;
  }
  return text;
}

function kafkaSecurity(e: z.infer<typeof ENV_SCHEMA>, problems: string[]): KafkaSecurity {
  const ca = readPem('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, /-----BEGIN CERTIFICATE-----/, 'a certificate', problems);
  const cert = readPem('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE, /-----BEGIN CERTIFICATE-----/, 'a certificate', problems);
  const key = readPem('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key', problems);
  if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined)) {
    problems.push('KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE: set both (mutual TLS) or neither');
  }
  if (!e.KAFKA_SSL) {
    for (const n of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const) {
      if (e[n] !== undefined) problems.push(`${n}: set while KAFKA_SSL is false; set KAFKA_SSL=true to use TLS`);
    }
  }
  const mechanism = e.KAFKA_SASL_MECHANISM;
  if (mechanism === undefined) {
    if (e.KAFKA_SASL_USERNAME !== undefined) problems.push('KAFKA_SASL_USERNAME: set without KAFKA_SASL_MECHANISM');
    if (e.KAFKA_SASL_PASSWORD !== undefined) problems.push('KAFKA_SASL_PASSWORD: set without KAFKA_SASL_MECHANISM');
  } else {
    if (e.KAFKA_SASL_USERNAME === undefined) problems.push(`KAFKA_SASL_USERNAME: required by KAFKA_SASL_MECHANISM=${mechanism}`);
    if (e.KAFKA_SASL_PASSWORD === undefined) {
      problems.push(`KAFKA_SASL_PASSWORD: required by KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`);
    }
  }
  return {
    ssl: e.KAFKA_SSL ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : false,
    ...(mechanism && e.KAFKA_SASL_USERNAME && e.KAFKA_SASL_PASSWORD
      ? { sasl: { mechanism, username: e.KAFKA_SASL_USERNAME, password: e.KAFKA_SASL_PASSWORD } }
      : {}),
  };
}
// end of Kafka security and secret files
// Postgres, HTTP and outbound hardening
const HARDENING_ENV = {
  DATABASE_CREATE: bool.default(true),
  AUDIT_API_DOCS: bool.default(true),
  // Above the idle timeouts of common load balancers (AWS ALB 60 s): the balancer, not Node, closes idle
  // connections, so it never sends a request on a socket Node is closing.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1000, 3600000).default(65000),
  HTTP_HEADERS_TIMEOUT_MS: int(1000, 3600000).default(66000),
  FEISHU_INSECURE_HTTP: bool.default(false),
  FEISHU_MAX_RESPONSE_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_GRACE_MS: int(1000, 3600000).default(25000),
};

export interface HardeningConfig {
  /** Create the database named in DATABASE_URL when missing (through the `postgres` maintenance database). */
  databaseCreate: boolean;
  http: { docs: boolean; keepAliveTimeoutMs: number; headersTimeoutMs: number };
  /** SIGTERM: readiness fails at once, and the process has exited by the end of this. */
  shutdownGraceMs: number;
  feishu: { maxResponseBytes: number };
}

/**
 * node-pg 8 (pg-connection-string 2.x) reads `prefer`, `require` and `verify-ca` as verify-full, with a deprecation
 * warning: node-pg 9 reads them as libpq does, `require` then checking neither CA nor host. `no-verify` never checks.
 * Only the two modes whose meaning cannot change are accepted.
 */
const SSLMODES = ['disable', 'verify-full'];
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function hardeningProblems(e: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const databaseUrl = String(e['DATABASE_URL']);
  // node-pg parses it with new URL(); a value that fails there (a port out of range, say) is named here rather
  // than failing at connect time with the URL in the error's `input`.
  if (!URL.canParse(databaseUrl)) problems.push('DATABASE_URL: not a valid URL (percent-encode reserved characters of the password)');
  const query = databaseUrl.split('?')[1];
  const sslmode = query === undefined ? null : new URLSearchParams(query).get('sslmode');
  if (sslmode !== null && !SSLMODES.includes(sslmode)) {
    problems.push('DATABASE_URL: sslmode must be verify-full or disable (other modes change meaning between node-pg versions)');
  }
  const feishu = new URL(String(e['FEISHU_BASE_URL']));
  if (feishu.protocol !== 'https:' && !LOOPBACK.test(feishu.hostname) && e['FEISHU_INSECURE_HTTP'] !== true) {
    problems.push('FEISHU_BASE_URL: must be https unless the host is loopback (set FEISHU_INSECURE_HTTP=true for a development emulator)');
  }
  if (Number(e['HTTP_HEADERS_TIMEOUT_MS']) <= Number(e['HTTP_KEEP_ALIVE_TIMEOUT_MS'])) {
    problems.push('HTTP_HEADERS_TIMEOUT_MS: must be above HTTP_KEEP_ALIVE_TIMEOUT_MS');
  }
  return problems;
}

function hardeningConfig(e: z.infer<z.ZodObject<typeof HARDENING_ENV>>): HardeningConfig {
  return {
    databaseCreate: e.DATABASE_CREATE,
    http: {
      docs: e.AUDIT_API_DOCS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    feishu: { maxResponseBytes: e.FEISHU_MAX_RESPONSE_BYTES },
  };
}
// end of Postgres, HTTP and outbound hardening

/**
 * Every variable the service reads. The keys of this schema are the whole list: docker-compose.yml and the
 * README are checked against it.
 */
export const ENV_SCHEMA = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform(csv)
    .refine((l) => l.length > 0 && l.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), 'must be host:port[,host:port...]'),
  KAFKA_TOPIC: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be a valid Kafka topic name')
    .default('badge.unread-count-changed.v1'),
  KAFKA_GROUP_ID: z.string().min(1).max(200).default('badge-reconciler'),
  KAFKA_TOPIC_PARTITIONS: int(1, 1000).default(6),
  KAFKA_CLIENT_ID: z.string().min(1).default('badge-reconciler'),
  KAFKA_SESSION_TIMEOUT_MS: int(6000, 300000).default(30000),
  DATABASE_URL: postgresUrl.default('postgres://postgres@127.0.0.1:5432/badges'),
  DATABASE_POOL_SIZE: int(2, 100).default(10),
  DATABASE_QUERY_TIMEOUT_MS: int(0, 3600000).default(30000),
  DATABASE_MIGRATE: bool.default(true),
  FEISHU_BASE_URL: httpUrl.default('https://open.feishu.cn'),
  FEISHU_APP_ID: z.string().min(1).max(128).optional(),
  FEISHU_APP_SECRET: z.string().min(1).max(512).optional(),
  FEISHU_APP_TYPE: z.enum(['custom', 'store']).default('custom'),
  FEISHU_MODE: z.enum(['live', 'shadow']).default('live'),
  FEISHU_VERIFICATION_TOKEN: z.string().min(1).optional(),
  FEISHU_ENCRYPT_KEY: z.string().min(1).optional(),
  FEISHU_RATE_LIMIT: int(1, 100000).default(50),
  FEISHU_TIMEOUT_MS: int(100, 120000).default(5000),
  FEISHU_CALLBACK_PORT: int(1, 65535).optional(),
  // Only `production` means anything: a store app there must have FEISHU_ENCRYPT_KEY (its callback is signed).
  NODE_ENV: z.string().optional(),
  HTTP_PORT: int(0, 65535).default(3000),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  AUDIT_API_TOKENS: z.string().optional(),
  AUDIT_API_RATE_LIMIT: int(0, 10_000_000).default(12_000),
  BADGE_ROLES: z
    .string()
    .default('ingest,reconcile,api')
    .transform(csv)
    .pipe(z.array(z.enum(ROLES)).min(1, 'must name at least one of ingest, reconcile, api')),
  AUDIT_RETENTION_DAYS: int(1, 3650).default(7),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INGEST_MAX_BATCH: int(1, 100000).default(5000),
  INGEST_MAX_SOURCES_PER_USER: int(1, 100000).default(64),
  SOURCE_ZERO_RETENTION_MS: int(60000, 3650 * 86400000).default(7 * 86400000),
  RECONCILE_BATCH_SIZE: int(1, 1000).default(32),
  RECONCILE_CONCURRENCY: int(1, 1000).default(128),
  RECONCILE_LEASE_MS: int(1000, 3600000).default(30000),
  RECONCILE_POLL_MS: int(10, 600000).default(1000),
  PUSH_MIN_INTERVAL_MS: int(0, 3600000).default(1000),
  BACKOFF_BASE_MS: int(10, 3600000).default(1000),
  BACKOFF_MAX_MS: int(10, 86400000).default(300000),
  CONFLICT_RETRY_MS: int(0, 600000).default(200),
  RESYNC_AFTER_MS: int(60000, 30 * 86400000).default(86400000),
  RESYNC_INTERVAL_MS: int(1000, 86400000).default(300000),
  RESYNC_BUDGET_SHARE: decimal(0, 1).default(0.1),
  // Fault injection for the crash-safety tests only: SIGKILL this process right after the Nth ingest database
  // commit, before its Kafka offsets are committed.
  TEST_CRASH_AFTER_INGEST_COMMITS: int(1, 1_000_000).optional(),
  // Kafka security and secret files
  ...KAFKA_SECURITY_SCHEMA,
  ...HARDENING_ENV,
});

export type Env = Record<string, string | undefined>;

/**
 * Every top-level value is an object: @nestjs/config copies the top-level strings, numbers and booleans of what
 * `validate` returns into process.env (libs/config/src/config.module.ts), and nothing parsed belongs there.
 */
export interface AppConfig {
  kafka: {
    brokers: string[];
    topic: string;
    dlqTopic: string;
    groupId: string;
    partitions: number;
    clientId: string;
    sessionTimeoutMs: number;
    /** KAFKA_CREATE_TOPICS: false only checks that the topic and its DLQ exist. */
    createTopics: boolean;
  } & KafkaSecurity;
  /** queryTimeoutMs: each query's limit in the service (0: none); migrations and the snapshot job have none. */
  database: { url: string; poolSize: number; migrate: boolean; queryTimeoutMs: number };
  feishu: {
    baseUrl: string;
    appId: string;
    appSecret: string;
    appType: 'custom' | 'store';
    /** `shadow`: the whole pipeline runs but nothing at all is sent to Feishu; would-be pushes are recorded. */
    mode: 'live' | 'shadow';
    verificationToken?: string;
    encryptKey?: string;
    rateLimit: number;
    timeoutMs: number;
    /** Serves the event callback on this port instead of HTTP_PORT. */
    callbackPort?: number;
  };
  http: { port: number; host: string };
  /** `tokens` hold digests only; `rateLimitPerMinute` 0 is no limit. */
  audit: { tokens: ScopedAuditToken[]; rateLimitPerMinute: number; retentionDays: number };
  roles: ReadonlySet<Role>;
  log: { level: z.infer<typeof ENV_SCHEMA>['LOG_LEVEL'] };
  ingest: { maxBatch: number; maxSourcesPerUser: number; zeroSourceRetentionMs: number; crashAfterCommits?: number };
  reconcile: {
    batchSize: number;
    concurrency: number;
    leaseMs: number;
    pollMs: number;
    minIntervalMs: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    conflictRetryMs: number;
    resyncAfterMs: number;
    resyncIntervalMs: number;
    resyncBudgetShare: number;
  };
  hardening: HardeningConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Names of every variable the service accepts. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(ENV_SCHEMA.shape);

/**
 * Parses the environment once. Unknown variables are ignored; every bad one is named, never its value
 * (a value may be a secret).
 */
export function loadConfig(env: Env): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of CONFIG_VARIABLES) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const problems: string[] = [];
  // Kafka security and secret files
  const fromFile = readSecretFiles(raw, problems);
  // AUDIT_API_TOKENS_FILE was read like every secret file; its text may be a plain list or scoped tokens (JSON or
  // YAML), which the scoped-token parser below tells apart.
  const tokensFileText = fromFile.has('AUDIT_API_TOKENS') ? raw.AUDIT_API_TOKENS : undefined;
  if (tokensFileText !== undefined) delete raw.AUDIT_API_TOKENS;
  const named = (v: string) => (fromFile.has(v) ? `${v} (from ${v}_FILE)` : v);
  // end of Kafka security and secret files
  const parsed = ENV_SCHEMA.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${named(String(issue.path[0] ?? '?'))}: ${issue.message}`);
    }
  }
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const kafkaSecured = kafkaSecurity(e, problems);
  const roles = new Set(e.BADGE_ROLES);
  if (roles.has('reconcile') || roles.has('api')) {
    // Shadow mode asks Feishu for nothing, not even a token: an adopter can run it before it has credentials.
    const live = e.FEISHU_MODE === 'live';
    if (!e.FEISHU_APP_ID && roles.has('reconcile') && live) problems.push('FEISHU_APP_ID: required by the reconcile role (unless FEISHU_MODE=shadow)');
    if (!e.FEISHU_APP_SECRET && roles.has('reconcile') && live) problems.push('FEISHU_APP_SECRET: required by the reconcile role (unless FEISHU_MODE=shadow)');
  }
  // Scoped audit tokens: AUDIT_API_TOKENS or AUDIT_API_TOKENS_FILE (libs/config/src/audit-tokens.ts).
  const auditTokens = tokensFileText !== undefined ? parseAuditTokensFile(tokensFileText) : plainAuditTokens(e.AUDIT_API_TOKENS ?? '');
  problems.push(...auditTokens.problems);
  if (roles.has('api') && auditTokens.tokens.length === 0 && auditTokens.problems.length === 0) {
    problems.push('AUDIT_API_TOKENS: required by the api role (comma-separated bearer tokens, or AUDIT_API_TOKENS_FILE)');
  }
  if (e.FEISHU_APP_TYPE === 'store' && roles.has('reconcile') && !e.FEISHU_VERIFICATION_TOKEN) {
    problems.push('FEISHU_VERIFICATION_TOKEN: required for store apps (checks the app_ticket callback)');
  }
  if (e.TEST_CRASH_AFTER_INGEST_COMMITS !== undefined && e.NODE_ENV === 'production') {
    problems.push('TEST_CRASH_AFTER_INGEST_COMMITS: a test-only switch (it SIGKILLs the process); refused when NODE_ENV=production');
  }
  if (e.FEISHU_APP_TYPE === 'store' && roles.has('reconcile') && !e.FEISHU_ENCRYPT_KEY && e.NODE_ENV === 'production') {
    problems.push('FEISHU_ENCRYPT_KEY: required for store apps when NODE_ENV=production (without it the event callback is unsigned)');
  }
  if (e.BACKOFF_MAX_MS < e.BACKOFF_BASE_MS) problems.push('BACKOFF_MAX_MS: must be at least BACKOFF_BASE_MS');
  if (e.DATABASE_QUERY_TIMEOUT_MS > 0 && e.DATABASE_QUERY_TIMEOUT_MS < 1000) problems.push('DATABASE_QUERY_TIMEOUT_MS: must be 0 (no limit) or at least 1000');
  // A push may take a request and one retry after a token refresh, and waits up to a second for its slot: a lease
  // shorter than that lets another replica push the same user meanwhile (Feishu answers 213004).
  const longestPushMs = 2 * e.FEISHU_TIMEOUT_MS + 1000;
  if (e.RECONCILE_LEASE_MS < longestPushMs) {
    problems.push(`RECONCILE_LEASE_MS: must be at least 2 x FEISHU_TIMEOUT_MS + 1000 ms (${longestPushMs} ms), the longest a push can take`);
  }
  problems.push(...hardeningProblems(e));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    kafka: {
      brokers: e.KAFKA_BROKERS,
      topic: e.KAFKA_TOPIC,
      dlqTopic: `${e.KAFKA_TOPIC}.dlq`,
      groupId: e.KAFKA_GROUP_ID,
      partitions: e.KAFKA_TOPIC_PARTITIONS,
      clientId: e.KAFKA_CLIENT_ID,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      createTopics: e.KAFKA_CREATE_TOPICS,
      ...kafkaSecured,
    },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, migrate: e.DATABASE_MIGRATE, queryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS },
    feishu: {
      baseUrl: e.FEISHU_BASE_URL,
      appId: e.FEISHU_APP_ID ?? '',
      appSecret: e.FEISHU_APP_SECRET ?? '',
      appType: e.FEISHU_APP_TYPE,
      mode: e.FEISHU_MODE,
      verificationToken: e.FEISHU_VERIFICATION_TOKEN,
      encryptKey: e.FEISHU_ENCRYPT_KEY,
      rateLimit: e.FEISHU_RATE_LIMIT,
      timeoutMs: e.FEISHU_TIMEOUT_MS,
      callbackPort: e.FEISHU_CALLBACK_PORT,
    },
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST },
    audit: { tokens: auditTokens.tokens, rateLimitPerMinute: e.AUDIT_API_RATE_LIMIT, retentionDays: e.AUDIT_RETENTION_DAYS },
    roles,
    log: { level: e.LOG_LEVEL },
    ingest: {
      maxBatch: e.INGEST_MAX_BATCH,
      maxSourcesPerUser: e.INGEST_MAX_SOURCES_PER_USER,
      zeroSourceRetentionMs: e.SOURCE_ZERO_RETENTION_MS,
      crashAfterCommits: e.TEST_CRASH_AFTER_INGEST_COMMITS,
    },
    reconcile: {
      batchSize: e.RECONCILE_BATCH_SIZE,
      concurrency: e.RECONCILE_CONCURRENCY,
      leaseMs: e.RECONCILE_LEASE_MS,
      pollMs: e.RECONCILE_POLL_MS,
      minIntervalMs: e.PUSH_MIN_INTERVAL_MS,
      backoffBaseMs: e.BACKOFF_BASE_MS,
      backoffMaxMs: e.BACKOFF_MAX_MS,
      conflictRetryMs: e.CONFLICT_RETRY_MS,
      resyncAfterMs: e.RESYNC_AFTER_MS,
      resyncIntervalMs: e.RESYNC_INTERVAL_MS,
      resyncBudgetShare: e.RESYNC_BUDGET_SHARE,
    },
    hardening: hardeningConfig(e),
  };
}
