import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, CONFIG_VARIABLES, loadConfig, SECRET_VARIABLES } from './app-config';

const base = { FEISHU_APP_ID: 'cli_x', FEISHU_APP_SECRET: 'secret-value-1234', AUDIT_API_TOKENS: 'a-token-of-sixteen+' };
const PASSWORD = 'kafka-pw-Zq81!never-echo';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kafka-sec-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

/** The problems of a configuration that must be refused, plus the message, for leak checks. */
function refused(env: Record<string, string>): { problems: string[]; message: string } {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return { problems: e.problems, message: e.message };
    throw e;
  }
  throw new Error('configuration was accepted');
}

describe('Kafka security configuration', () => {
  it('defaults to plaintext, no SASL, topics created', () => {
    const c = loadConfig(base);
    expect(c.kafka).toMatchObject({ ssl: false, createTopics: true });
    expect(c.kafka.sasl).toBeUndefined();
    expect(loadConfig({ ...base, KAFKA_CREATE_TOPICS: 'false' }).kafka.createTopics).toBe(false);
  });

  it('builds TLS with the CA and client certificate read from their files, and SASL credentials', () => {
    const c = loadConfig({
      ...base,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: file('ca.pem', CERT),
      KAFKA_SSL_CERT_FILE: file('client.pem', CERT),
      KAFKA_SSL_KEY_FILE: file('client.key', KEY),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    expect(c.kafka.ssl).toEqual({ ca: CERT, cert: CERT, key: KEY });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: PASSWORD });
    // No CA file: the system CAs (node's default when `ca` is absent).
    expect(loadConfig({ ...base, KAFKA_SSL: 'true' }).kafka.ssl).toEqual({});
  });

  it('refuses a mechanism without credentials, credentials without a mechanism, and an unknown mechanism', () => {
    expect(refused({ ...base, KAFKA_SASL_MECHANISM: 'plain' }).problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'KAFKA_SASL_PASSWORD',
      'KAFKA_SASL_USERNAME',
    ]);
    expect(refused({ ...base, KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'svc' }).problems).toEqual([
      expect.stringMatching(/^KAFKA_SASL_PASSWORD: required by KAFKA_SASL_MECHANISM=scram-sha-256/),
    ]);
    const orphan = refused({ ...base, KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: PASSWORD });
    expect(orphan.problems.map((p) => p.split(':')[0]).sort()).toEqual(['KAFKA_SASL_PASSWORD', 'KAFKA_SASL_USERNAME']);
    expect(orphan.message).not.toContain(PASSWORD);
    const unknown = refused({ ...base, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: PASSWORD });
    expect(unknown.problems).toEqual([expect.stringMatching(/^KAFKA_SASL_MECHANISM: must be plain, scram-sha-256 or scram-sha-512/)]);
    expect(unknown.message).not.toContain(PASSWORD);
  });

  it('refuses a client certificate without its key (and the reverse), TLS files without KAFKA_SSL, and non-PEM files', () => {
    const cert = file('only-cert.pem', CERT);
    const key = file('only-key.pem', KEY);
    expect(refused({ ...base, KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: cert }).problems).toEqual([
      'KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE: set both (mutual TLS) or neither',
    ]);
    expect(refused({ ...base, KAFKA_SSL: 'true', KAFKA_SSL_KEY_FILE: key }).problems).toEqual([
      'KAFKA_SSL_CERT_FILE, KAFKA_SSL_KEY_FILE: set both (mutual TLS) or neither',
    ]);
    expect(refused({ ...base, KAFKA_SSL_CA_FILE: cert }).problems).toEqual([expect.stringMatching(/^KAFKA_SSL_CA_FILE: set while KAFKA_SSL is false/)]);
    // A key where a certificate belongs: named, and the key's text never shown.
    const wrong = refused({ ...base, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: key, KAFKA_SSL_KEY_FILE: cert, KAFKA_SSL_CERT_FILE: cert });
    expect(wrong.problems.sort()).toEqual(['KAFKA_SSL_CA_FILE: not a PEM file with a certificate', 'KAFKA_SSL_KEY_FILE: not a PEM file with a private key']);
    expect(wrong.message).not.toMatch(/MIIE|MIIB/);
    expect(refused({ ...base, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'absent.pem') }).problems).toEqual([
      'KAFKA_SSL_CA_FILE: cannot read the file (ENOENT)',
    ]);
    expect(refused({ ...base, KAFKA_SSL: 'maybe' }).problems).toEqual([expect.stringMatching(/^KAFKA_SSL:/)]);
  });
});

describe('secrets from files (<NAME>_FILE)', () => {
  it('offers a _FILE form for every secret, and lists it among the variables', () => {
    expect([...SECRET_VARIABLES].sort()).toEqual(
      ['AUDIT_API_TOKENS', 'DATABASE_URL', 'FEISHU_APP_SECRET', 'FEISHU_ENCRYPT_KEY', 'FEISHU_VERIFICATION_TOKEN', 'KAFKA_SASL_PASSWORD'].sort(),
    );
    for (const v of SECRET_VARIABLES) expect(CONFIG_VARIABLES).toContain(`${v}_FILE`);
    for (const v of ['KAFKA_SSL', 'KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_CREATE_TOPICS']) {
      expect(CONFIG_VARIABLES).toContain(v);
    }
  });

  it('reads each secret from its file, trimming one trailing newline and nothing else', () => {
    const c = loadConfig({
      FEISHU_APP_ID: 'cli_x',
      FEISHU_APP_SECRET_FILE: file('app-secret', 'app-secret-from-file\n'),
      FEISHU_APP_TYPE: 'store',
      FEISHU_VERIFICATION_TOKEN_FILE: file('vt', 'verification-token\r\n'),
      FEISHU_ENCRYPT_KEY_FILE: file('ek', ' encrypt key with spaces \n\n'),
      AUDIT_API_TOKENS_FILE: file('tokens', 'first-token-0123456789\nsecond-token-0123456789,third-token-0123456789\n'),
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD_FILE: file('kafka-pw', `${PASSWORD}\n`),
      DATABASE_URL_FILE: file('db-url', 'postgres://u:p@db.internal:5432/badges?sslmode=verify-full\n'),
    });
    expect(c.feishu.appSecret).toBe('app-secret-from-file');
    expect(c.feishu.verificationToken).toBe('verification-token');
    expect(c.feishu.encryptKey).toBe(' encrypt key with spaces \n');
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    expect(c.audit.tokens.map((t) => t.sha256)).toEqual(['first-token-0123456789', 'second-token-0123456789', 'third-token-0123456789'].map(sha));
    expect(c.kafka.sasl?.password).toBe(PASSWORD);
    expect(c.database.url).toBe('postgres://u:p@db.internal:5432/badges?sslmode=verify-full');
  });

  it('refuses both forms at once, naming both variables and echoing neither value', () => {
    const r = refused({ ...base, FEISHU_APP_SECRET_FILE: file('s1', 'from-the-file-value\n'), KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('pw', PASSWORD) });
    expect(r.problems).toEqual(expect.arrayContaining(['FEISHU_APP_SECRET, FEISHU_APP_SECRET_FILE: both are set; set only one', 'KAFKA_SASL_PASSWORD, KAFKA_SASL_PASSWORD_FILE: both are set; set only one']));
    expect(r.message).not.toContain(PASSWORD);
    expect(r.message).not.toContain('secret-value-1234');
    expect(r.message).not.toContain('from-the-file-value');
  });

  it('names the variable of an unreadable or empty file, never its content', () => {
    const unreadable = file('unreadable', 'top-secret-content\n');
    chmodSync(unreadable, 0o000);
    const canRead = (() => {
      try {
        require('node:fs').readFileSync(unreadable);
        return true; // root reads anything: the missing file below still covers "unreadable"
      } catch {
        return false;
      }
    })();
    const r = refused({ ...base, FEISHU_APP_SECRET: undefined as never, FEISHU_APP_SECRET_FILE: canRead ? path.join(dir, 'nope') : unreadable, DATABASE_URL_FILE: path.join(dir, 'missing'), FEISHU_ENCRYPT_KEY_FILE: file('empty', '\n') });
    expect(r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^FEISHU_APP_SECRET_FILE: cannot read the file \((EACCES|ENOENT)\)$/),
        'DATABASE_URL_FILE: cannot read the file (ENOENT)',
        'FEISHU_ENCRYPT_KEY_FILE: the file is empty',
      ]),
    );
    expect(r.message).not.toContain('top-secret-content');
  });

  it('names the _FILE variable when the value it holds is invalid, without echoing it', () => {
    const r = refused({ ...base, DATABASE_URL_FILE: file('bad-url', 'mysql://root:hunter2-password@db/x\n') });
    expect(r.problems).toEqual([expect.stringMatching(/^DATABASE_URL \(from DATABASE_URL_FILE\): must be postgres:\/\//)]);
    expect(r.message).not.toContain('hunter2-password');
  });

  it('reads a scoped (JSON/YAML) AUDIT_API_TOKENS_FILE through the _FILE mechanism, and names a bad entry without its token', () => {
    const yaml = '- name: ops\n  token: ops-token-0123456789abcdef\n  scopes: [read]\n  tenants: ["*"]\n';
    const c = loadConfig({ ...base, AUDIT_API_TOKENS: undefined as never, AUDIT_API_TOKENS_FILE: file('tokens.yaml', yaml) });
    expect(c.audit.tokens.map((t) => [t.name, t.scopes])).toEqual([['ops', ['read']]]);
    const bad = refused({ ...base, AUDIT_API_TOKENS: undefined as never, AUDIT_API_TOKENS_FILE: file('tokens.json', '[{"name":"ops","token":"ops-token-0123456789abcdef"}]') });
    expect(bad.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^AUDIT_API_TOKENS_FILE/)]));
    expect(bad.message).not.toContain('ops-token-0123456789abcdef');
  });
});
