import { createHash } from 'node:crypto';
import { loadConfig } from './app-config';
import { parseAuditTokensFile } from './audit-tokens';

const T1 = 'token-one-0123456789abcdef';
const T2 = 'token-two-0123456789abcdef';
const hex = (s: string) => createHash('sha256').update(s).digest('hex');

describe('AUDIT_API_TOKENS_FILE', () => {
  it('reads a YAML list: token or sha256, scopes, tenants', () => {
    const file = `# operators
- name: oncall
  token: ${T1}
  scopes: [read, resync]
  tenants: ["*"]
- name: tenant-a-viewer
  sha256: ${hex(T2).toUpperCase()}
  scopes: [read]
  tenants: [tenant_a, tenant_b]
`;
    expect(parseAuditTokensFile(file)).toEqual({
      problems: [],
      tokens: [
        { name: 'oncall', sha256: hex(T1), scopes: ['read', 'resync'], tenants: '*' },
        { name: 'tenant-a-viewer', sha256: hex(T2), scopes: ['read'], tenants: ['tenant_a', 'tenant_b'] },
      ],
    });
  });

  it('reads the same list as JSON', () => {
    const json = JSON.stringify([{ name: 'ro', token: T1, scopes: ['read'], tenants: ['*'] }]);
    expect(parseAuditTokensFile(json).tokens).toEqual([{ name: 'ro', sha256: hex(T1), scopes: ['read'], tenants: '*' }]);
  });

  it('keeps the old meaning for a plain comma or newline list: both scopes, every tenant, named by position', () => {
    expect(parseAuditTokensFile(`${T1},${T2}\n`)).toEqual({
      problems: [],
      tokens: [
        { name: 'AUDIT_API_TOKENS_FILE#1', sha256: hex(T1), scopes: ['read', 'resync'], tenants: '*' },
        { name: 'AUDIT_API_TOKENS_FILE#2', sha256: hex(T2), scopes: ['read', 'resync'], tenants: '*' },
      ],
    });
    expect(parseAuditTokensFile(`${T1}\n${T2}`).tokens.map((t) => t.sha256)).toEqual([hex(T1), hex(T2)]);
  });

  it('names every bad entry by index and name, and never echoes a token', () => {
    const file = `
- name: ok
  token: ${T1}
  scopes: [read]
  tenants: ["*"]
- name: short
  token: short-${T2.slice(0, 4)}
  scopes: [read]
  tenants: ["*"]
- name: both
  token: ${T2}
  sha256: ${hex(T2)}
  scopes: [read]
  tenants: ["*"]
- name: badscope
  sha256: ${hex('x')}
  scopes: [write]
  tenants: ["*", tenant_a]
- token: ${T2}-nameless
  scopes: []
  tenants: []
  extra: ${T2}
`;
    const { problems } = parseAuditTokensFile(file);
    expect(problems.find((p) => p.startsWith('AUDIT_API_TOKENS_FILE: entry 1'))).toBeUndefined();
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 2 \("short"\): token: .*16/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 3 \("both"\): token: exactly one of token or sha256/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 4 \("badscope"\): scopes/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 4 \("badscope"\): tenants: "\*" stands alone/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 5: name/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 5: scopes/),
        expect.stringMatching(/^AUDIT_API_TOKENS_FILE: entry 5: tenants/),
      ]),
    );
    const all = problems.join('\n');
    for (const secret of [T1, T2, T2.slice(0, 4) + '\n', 'short-']) expect(all).not.toContain(secret);
  });

  it('refuses duplicate names and one token under two names', () => {
    const entry = (name: string, token: string) => ({ name, token, scopes: ['read'], tenants: ['*'] });
    expect(parseAuditTokensFile(JSON.stringify([entry('a', T1), entry('a', T2)])).problems).toEqual(['AUDIT_API_TOKENS_FILE: the name "a" is used twice']);
    expect(parseAuditTokensFile(JSON.stringify([entry('a', T1), entry('b', T1)])).problems).toEqual(['AUDIT_API_TOKENS_FILE: "b" and "a" have the same token']);
  });

  it('reports a syntax error by position, without quoting the file', () => {
    const { problems } = parseAuditTokensFile(`- name: a\n  token: ${T1}\n   scopes: [read\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^AUDIT_API_TOKENS_FILE: not a valid JSON or YAML list \(line \d+, column \d+\)$/);
    expect(parseAuditTokensFile(`[{"name": "a", "token": "${T1}"`).problems[0]).toMatch(/^AUDIT_API_TOKENS_FILE: not a valid JSON or YAML list/);
    expect(parseAuditTokensFile(`- ${T1}`).problems).toEqual(['AUDIT_API_TOKENS_FILE: entry 1: Invalid input: expected object, received string']);
  });

  it('is read by loadConfig, which exits naming the variable (never the value)', () => {
    expect(() => loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: `${T1},short` })).toThrow(/AUDIT_API_TOKENS: each token must be at least 16 characters/);
    expect(() => loadConfig({ BADGE_ROLES: 'api' })).toThrow(/AUDIT_API_TOKENS: required by the api role/);
    const config = loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: T1 });
    expect(config.audit).toEqual({ tokens: [{ name: 'AUDIT_API_TOKENS#1', sha256: hex(T1), scopes: ['read', 'resync'], tenants: '*' }], rateLimitPerMinute: 12_000, retentionDays: 7 });
    expect(JSON.stringify(config)).not.toContain(T1);
  });
});

describe('store-app event callback configuration', () => {
  const store = { BADGE_ROLES: 'reconcile', FEISHU_APP_TYPE: 'store', FEISHU_APP_ID: 'cli_s', FEISHU_APP_SECRET: 's', FEISHU_VERIFICATION_TOKEN: 'v' };

  it('requires FEISHU_ENCRYPT_KEY for a store app when NODE_ENV=production (its callback would be unsigned)', () => {
    expect(() => loadConfig({ ...store, NODE_ENV: 'production' })).toThrow(/FEISHU_ENCRYPT_KEY: required for store apps when NODE_ENV=production/);
    expect(loadConfig({ ...store, NODE_ENV: 'production', FEISHU_ENCRYPT_KEY: 'k' }).feishu.encryptKey).toBe('k');
    expect(() => loadConfig(store)).not.toThrow();
    expect(() => loadConfig({ BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'cli_c', FEISHU_APP_SECRET: 's', NODE_ENV: 'production' })).not.toThrow();
  });

  it('takes FEISHU_CALLBACK_PORT, naming a bad one', () => {
    expect(loadConfig({ ...store, FEISHU_CALLBACK_PORT: '8443' }).feishu.callbackPort).toBe(8443);
    expect(loadConfig(store).feishu.callbackPort).toBeUndefined();
    expect(() => loadConfig({ ...store, FEISHU_CALLBACK_PORT: 'eighty' })).toThrow(/FEISHU_CALLBACK_PORT/);
  });

  it('takes AUDIT_API_RATE_LIMIT per minute, 0 for no limit', () => {
    expect(loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: T1, AUDIT_API_RATE_LIMIT: '0' }).audit.rateLimitPerMinute).toBe(0);
    expect(() => loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: T1, AUDIT_API_RATE_LIMIT: '-1' })).toThrow(/AUDIT_API_RATE_LIMIT/);
  });
});
