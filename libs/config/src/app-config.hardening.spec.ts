import { ConfigError, loadConfig } from './app-config';

const base = { FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', AUDIT_API_TOKENS: 'a-token-of-sixteen+' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
}

describe('loadConfig: Postgres, HTTP and outbound hardening', () => {
  it('defaults: create the database, serve /docs, keep-alive above load balancers, 1 MiB bodies, 25 s grace', () => {
    expect(loadConfig(base).hardening).toEqual({
      databaseCreate: true,
      http: { docs: true, keepAliveTimeoutMs: 65000, headersTimeoutMs: 66000 },
      shutdownGraceMs: 25000,
      feishu: { maxResponseBytes: 1048576 },
    });
    const c = loadConfig({ ...base, DATABASE_CREATE: 'false', AUDIT_API_DOCS: 'false', SHUTDOWN_GRACE_MS: '10000' });
    expect([c.hardening.databaseCreate, c.hardening.http.docs, c.hardening.shutdownGraceMs]).toEqual([false, false, 10000]);
  });

  it.each(['https://open.feishu.cn', 'http://127.0.0.1:18080', 'http://localhost:18080', 'http://[::1]:18080'])('accepts FEISHU_BASE_URL %s', (url) => {
    expect(problems({ FEISHU_BASE_URL: url })).toEqual([]);
  });

  it.each(['http://open.feishu.cn', 'http://emulator:18080', 'http://127.example.com'])('refuses plain http to a host that is not loopback: %s', (url) => {
    expect(problems({ FEISHU_BASE_URL: url })).toEqual([expect.stringMatching(/^FEISHU_BASE_URL: must be https unless the host is loopback/)]);
  });

  it('lets a development stack opt into plain http with FEISHU_INSECURE_HTTP', () => {
    expect(problems({ FEISHU_BASE_URL: 'http://emulator:18080', FEISHU_INSECURE_HTTP: 'true' })).toEqual([]);
  });

  it.each(['verify-full', 'disable'])('accepts sslmode=%s', (mode) => {
    expect(problems({ DATABASE_URL: `postgres://u:pw@db.internal:5432/badges?sslmode=${mode}&sslrootcert=/etc/ca.pem` })).toEqual([]);
  });

  it.each(['require', 'verify-ca', 'prefer', 'no-verify'])('refuses sslmode=%s, naming the variable and not the URL', (mode) => {
    const found = problems({ DATABASE_URL: `postgres://u:hunter2-password@db.internal:5432/badges?sslmode=${mode}` });
    expect(found).toEqual([expect.stringMatching(/^DATABASE_URL: sslmode must be verify-full or disable/)]);
    expect(found.join('\n')).not.toContain('hunter2-password');
  });

  it('never echoes a DATABASE_URL it cannot parse', () => {
    const found = problems({ DATABASE_URL: 'postgres://u:hunter2-password@db.internal:5432/bad-name!' });
    expect(found).toEqual([expect.stringMatching(/^DATABASE_URL: /)]);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('names a DATABASE_URL that node-pg could not parse, without echoing it', () => {
    const found = problems({ DATABASE_URL: 'postgres://u:hunter2-password@db.internal:99999/badges' });
    expect(found).toEqual([expect.stringMatching(/^DATABASE_URL: not a valid URL/)]);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('wants the headers timeout above the keep-alive timeout', () => {
    expect(problems({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '70000' })).toEqual([expect.stringMatching(/^HTTP_HEADERS_TIMEOUT_MS: must be above/)]);
    expect(problems({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '70000', HTTP_HEADERS_TIMEOUT_MS: '71000' })).toEqual([]);
  });

  it('names bad values of the new variables', () => {
    const found = problems({ DATABASE_CREATE: 'maybe', AUDIT_API_DOCS: 'off', SHUTDOWN_GRACE_MS: 'soon', FEISHU_MAX_RESPONSE_BYTES: '10' });
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual(['AUDIT_API_DOCS', 'DATABASE_CREATE', 'FEISHU_MAX_RESPONSE_BYTES', 'SHUTDOWN_GRACE_MS']);
  });

  it('refuses the test-only crash switch in production, and keeps it for tests', () => {
    expect(problems({ NODE_ENV: 'production', TEST_CRASH_AFTER_INGEST_COMMITS: '3' })).toEqual([
      'TEST_CRASH_AFTER_INGEST_COMMITS: a test-only switch (it SIGKILLs the process); refused when NODE_ENV=production',
    ]);
    expect(loadConfig({ ...base, TEST_CRASH_AFTER_INGEST_COMMITS: '3' }).ingest.crashAfterCommits).toBe(3);
  });
});
