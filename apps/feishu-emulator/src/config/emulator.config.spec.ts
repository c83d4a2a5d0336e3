import { EmulatorConfigError, parseEmulatorConfig } from './emulator.config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseEmulatorConfig(env);
  } catch (error) {
    if (error instanceof EmulatorConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected an EmulatorConfigError');
}

describe('parseEmulatorConfig', () => {
  it('has working defaults', () => {
    const config = parseEmulatorConfig({});
    expect(config).toMatchObject({
      port: 18080,
      host: '127.0.0.1',
      customApp: { appId: 'cli_emulator', appSecret: 'emulator-secret' },
      storeApp: null,
      tokens: { ttlSeconds: 7200, refreshRatio: 0.25, errorHttpStatus: 200 },
      rateLimits: { appBadgeSet: 50 },
      latestVersionInMessage: true,
      logRequests: false,
    });
    expect(config.faults).toEqual({
      http5xxRate: 0,
      http5xxStatuses: [500, 502, 503],
      ambiguousRate: 0,
      latencyMs: 0,
      latencyJitterMs: 0,
      hangRate: 0,
      dropRate: 0,
    });
  });

  it('reads lists, switches and the store app', () => {
    const config = parseEmulatorConfig({
      EMULATOR_INVALID_USERS: ' ou_a, ,ou_b ',
      EMULATOR_LATEST_VERSION_IN_MESSAGE: 'false',
      EMULATOR_STORE_APP_ID: 'cli_store',
      EMULATOR_STORE_APP_SECRET: 's',
      EMULATOR_STORE_TENANT_KEYS: 't1,t2',
      EMULATOR_PORT: '',
    });
    expect(config.invalidUsers).toEqual(['ou_a', 'ou_b']);
    expect(config.latestVersionInMessage).toBe(false);
    expect(config.storeApp).toEqual({ appId: 'cli_store', appSecret: 's', tenantKeys: ['t1', 't2'] });
    expect(config.port).toBe(18080);
  });

  it('names the variables whose shares add up to more than 1', () => {
    expect(problemsOf({ EMULATOR_FAULT_5XX_RATE: '0.6', EMULATOR_FAULT_DROP_RATE: '0.5' })).toEqual([
      expect.stringMatching(/EMULATOR_FAULT_5XX_RATE.*EMULATOR_FAULT_DROP_RATE.*must not exceed 1/),
    ]);
  });

  it('never echoes a value, so a misplaced secret cannot leak into the message', () => {
    const error = (() => {
      try {
        return parseEmulatorConfig({ EMULATOR_PORT: 'hunter2-secret' });
      } catch (e) {
        return e as Error;
      }
    })() as Error;
    expect(error.message).toContain('EMULATOR_PORT');
    expect(error.message).not.toContain('hunter2-secret');
  });
});
