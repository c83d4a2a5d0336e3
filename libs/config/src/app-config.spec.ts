import { ConfigError, CONFIG_VARIABLES, loadConfig } from './app-config';

const base = { FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', AUDIT_API_TOKENS: 'a-token-of-sixteen+' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(base);
    expect(c.kafka).toMatchObject({ brokers: ['127.0.0.1:9092'], topic: 'badge.unread-count-changed.v1', dlqTopic: 'badge.unread-count-changed.v1.dlq', groupId: 'badge-reconciler' });
    expect(c.database.url).toBe('postgres://postgres@127.0.0.1:5432/badges');
    expect(c.feishu).toMatchObject({ baseUrl: 'https://open.feishu.cn', appType: 'custom', rateLimit: 50 });
    expect([c.http.port, [...c.roles], c.audit.retentionDays]).toEqual([3000, ['ingest', 'reconcile', 'api'], 7]);
    expect(c.reconcile.minIntervalMs).toBe(1000);
  });

  it('names every bad variable at once, and never echoes a value', () => {
    let err: unknown;
    try {
      loadConfig({ ...base, KAFKA_BROKERS: 'x', HTTP_PORT: 'eighty', FEISHU_APP_TYPE: 'isv', BADGE_ROLES: 'api,chef', FEISHU_RATE_LIMIT: '0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const names = (err as ConfigError).problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual(['BADGE_ROLES', 'FEISHU_APP_TYPE', 'FEISHU_RATE_LIMIT', 'HTTP_PORT', 'KAFKA_BROKERS']);
    expect((err as Error).message).not.toContain('eighty');
  });

  it('requires credentials for reconcile, tokens for api, and lets ingest alone run without either', () => {
    expect(() => loadConfig({})).toThrow(/FEISHU_APP_ID[\s\S]*FEISHU_APP_SECRET[\s\S]*AUDIT_API_TOKENS/);
    expect([...loadConfig({ BADGE_ROLES: 'ingest' }).roles]).toEqual(['ingest']);
  });

  it('refuses a lease shorter than the longest push', () => {
    expect(() => loadConfig({ ...base, RECONCILE_LEASE_MS: '3000', FEISHU_TIMEOUT_MS: '5000' })).toThrow(/RECONCILE_LEASE_MS: must be at least/);
    expect(() => loadConfig({ ...base, RECONCILE_LEASE_MS: '3000', FEISHU_TIMEOUT_MS: '1000' })).not.toThrow();
  });

  it('limits each database query to 30 s by default; 0 is no limit, and a limit under a second is refused by name', () => {
    expect(loadConfig({ BADGE_ROLES: 'ingest' }).database.queryTimeoutMs).toBe(30_000);
    expect(loadConfig({ BADGE_ROLES: 'ingest', DATABASE_QUERY_TIMEOUT_MS: '0' }).database.queryTimeoutMs).toBe(0);
    expect(() => loadConfig({ BADGE_ROLES: 'ingest', DATABASE_QUERY_TIMEOUT_MS: '500' })).toThrow(/DATABASE_QUERY_TIMEOUT_MS: must be 0 \(no limit\) or at least 1000/);
    expect(() => loadConfig({ BADGE_ROLES: 'ingest', DATABASE_QUERY_TIMEOUT_MS: 'soon' })).toThrow(/DATABASE_QUERY_TIMEOUT_MS/);
  });

  it('bounds the sources per user and keeps zero sources a week by default, naming a bad value', () => {
    expect(loadConfig({ BADGE_ROLES: 'ingest' }).ingest).toMatchObject({ maxSourcesPerUser: 64, zeroSourceRetentionMs: 7 * 86_400_000 });
    expect(loadConfig({ BADGE_ROLES: 'ingest', INGEST_MAX_SOURCES_PER_USER: '8', SOURCE_ZERO_RETENTION_MS: '3600000' }).ingest).toMatchObject({
      maxSourcesPerUser: 8,
      zeroSourceRetentionMs: 3_600_000,
    });
    expect(() => loadConfig({ BADGE_ROLES: 'ingest', INGEST_MAX_SOURCES_PER_USER: '0', SOURCE_ZERO_RETENTION_MS: 'soon' })).toThrow(
      /INGEST_MAX_SOURCES_PER_USER[\s\S]*SOURCE_ZERO_RETENTION_MS/,
    );
  });

  it('reads numbers as plain decimals: a blank, hex, exponent, sign or fraction is refused by name, not read as 0 or off', () => {
    // A blank limit was 0: the audit API's rate limit, the query limit and the push spacing off, HTTP on any port.
    const bad = { AUDIT_API_RATE_LIMIT: ' ', DATABASE_QUERY_TIMEOUT_MS: '\t', PUSH_MIN_INTERVAL_MS: '  ', HTTP_PORT: '0x1F90', FEISHU_RATE_LIMIT: '5e1', RECONCILE_CONCURRENCY: '-4', RECONCILE_BATCH_SIZE: '8.5', RESYNC_BUDGET_SHARE: '1e-1' };
    let err: unknown;
    try {
      loadConfig({ ...base, ...bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(Object.keys(bad).sort());
    expect(problems.filter((p) => p.startsWith('RESYNC_BUDGET_SHARE'))).toEqual(['RESYNC_BUDGET_SHARE: must be a decimal number']);
    expect(problems.filter((p) => p.startsWith('HTTP_PORT'))).toEqual(['HTTP_PORT: must be a whole number']);
    for (const v of ['0x1F90', '5e1', '8.5']) expect((err as Error).message).not.toContain(v);

    const c = loadConfig({ ...base, AUDIT_API_RATE_LIMIT: ' 600 ', HTTP_PORT: '8080', RESYNC_BUDGET_SHARE: '.25' });
    expect([c.audit.rateLimitPerMinute, c.http.port, c.reconcile.resyncBudgetShare]).toEqual([600, 8080, 0.25]);
    // An empty value is an unset one: the default.
    expect(loadConfig({ ...base, AUDIT_API_RATE_LIMIT: '' }).audit.rateLimitPerMinute).toBe(12_000);
  });

  it('lists every variable of the design contract', () => {
    for (const v of ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_GROUP_ID', 'DATABASE_URL', 'FEISHU_BASE_URL', 'FEISHU_APP_ID', 'FEISHU_APP_SECRET', 'FEISHU_APP_TYPE', 'FEISHU_VERIFICATION_TOKEN', 'FEISHU_ENCRYPT_KEY', 'FEISHU_RATE_LIMIT', 'HTTP_PORT', 'AUDIT_API_TOKENS', 'BADGE_ROLES', 'AUDIT_RETENTION_DAYS']) {
      expect(CONFIG_VARIABLES).toContain(v);
    }
  });
});
