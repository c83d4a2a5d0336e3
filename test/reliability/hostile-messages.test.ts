import { expectConverged, runScenario, SOAK } from './support/scenario';

jest.setTimeout(SOAK ? 1_800_000 : 180_000);

describe('reliability: fuzzed and hostile messages mixed into the stream', () => {
  it('no crash, no stall, every hostile message in the DLQ with its reason, every valid one applied', async () => {
    const hostile = SOAK ? 10_000 : 1_000;
    const r = await runScenario({
      name: 'hostile',
      replicas: 2,
      users: SOAK ? 3000 : 300,
      durationMs: SOAK ? 120_000 : 10_000,
      hostile,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      schedule: () => [],
      convergeTimeoutMs: SOAK ? 600_000 : 90_000,
    });
    expectConverged(r);
    expect(r.dlq).toEqual({ total: hostile, hostileSent: hostile, matched: hostile, withReason: hostile, foreign: 0, valueMismatch: 0, missing: [] });
  });
});
