import { EmulatorConfigError, parseEmulatorConfig } from '../../apps/feishu-emulator/src/config/emulator.config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseEmulatorConfig(env);
  } catch (error) {
    if (error instanceof EmulatorConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration from the environment', () => {
  it('names every bad variable at once', () => {
    const bad: Record<string, string> = {
      EMULATOR_PORT: '70000',
      EMULATOR_RATE_LIMIT: 'fast',
      EMULATOR_TOKEN_RATE_LIMIT: '-1',
      EMULATOR_TOKEN_TTL_SECONDS: '0',
      EMULATOR_TOKEN_REFRESH_RATIO: '1.5',
      EMULATOR_APP_TICKET_TTL_SECONDS: 'x',
      EMULATOR_TOKEN_ERROR_HTTP_STATUS: '401',
      EMULATOR_EVENT_CALLBACK_URL: 'not a url',
      EMULATOR_LATEST_VERSION_IN_MESSAGE: 'maybe',
      EMULATOR_FAULT_5XX_RATE: '2',
      EMULATOR_FAULT_5XX_STATUSES: '500,404',
      EMULATOR_FAULT_AMBIGUOUS_RATE: 'half',
      EMULATOR_LATENCY_MS: '1.5',
      EMULATOR_LATENCY_JITTER_MS: '-3',
      EMULATOR_FAULT_HANG_RATE: '-0.1',
      EMULATOR_FAULT_DROP_RATE: '1.01',
      EMULATOR_LOG_REQUESTS: 'loud',
      EMULATOR_STORE_APP_ID: 'cli_store_without_secret',
    };
    const problems = problemsOf(bad);
    const named = Object.keys(bad).filter((name) => name !== 'EMULATOR_STORE_APP_ID');
    for (const name of [...named, 'EMULATOR_STORE_APP_SECRET']) {
      expect(problems.some((problem) => problem.startsWith(`${name}:`))).toBe(true);
    }
    expect(problems).toHaveLength(named.length + 1);
  });

  it('says so in one message that lists the problems and no values', () => {
    const error = (() => {
      try {
        parseEmulatorConfig({ EMULATOR_RATE_LIMIT: 'secret-looking-value', EMULATOR_PORT: 'x' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a failure');
    })();
    expect(error.message).toMatch(/^Invalid feishu-emulator configuration:\n {2}- EMULATOR_PORT: .+\n {2}- EMULATOR_RATE_LIMIT: .+$/);
    expect(error.message).not.toContain('secret-looking-value');
  });

  it('accepts a complete valid environment', () => {
    const config = parseEmulatorConfig({
      EMULATOR_PORT: '0',
      EMULATOR_HOST: '0.0.0.0',
      EMULATOR_APP_ID: 'cli_a',
      EMULATOR_APP_SECRET: 's',
      EMULATOR_RATE_LIMIT: '0',
      EMULATOR_TOKEN_TTL_SECONDS: '5',
      EMULATOR_STORE_APP_ID: 'cli_b',
      EMULATOR_STORE_APP_SECRET: 't',
      EMULATOR_EVENT_CALLBACK_URL: 'http://127.0.0.1:9999/webhook/event',
      EMULATOR_VERIFICATION_TOKEN: 'v',
      EMULATOR_ENCRYPT_KEY: 'k',
      EMULATOR_INVALID_USERS: 'ou_1,ou_2',
      EMULATOR_INVISIBLE_USERS: 'ou_3',
      EMULATOR_LATEST_VERSION_IN_MESSAGE: 'true',
      EMULATOR_FAULT_5XX_RATE: '0.1',
      EMULATOR_FAULT_AMBIGUOUS_RATE: '0.1',
      EMULATOR_LATENCY_MS: '10',
      EMULATOR_LATENCY_JITTER_MS: '5',
      EMULATOR_FAULT_HANG_RATE: '0.01',
      EMULATOR_FAULT_DROP_RATE: '0.01',
      EMULATOR_LOG_REQUESTS: 'true',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      storeApp: { appId: 'cli_b', appSecret: 't', tenantKeys: [] },
      eventCallback: { url: 'http://127.0.0.1:9999/webhook/event', verificationToken: 'v', encryptKey: 'k' },
      invalidUsers: ['ou_1', 'ou_2'],
      faults: { http5xxRate: 0.1, ambiguousRate: 0.1, latencyMs: 10, latencyJitterMs: 5, hangRate: 0.01, dropRate: 0.01 },
      logRequests: true,
    });
  });
});
