import { expectConverged, rollingRestart, runScenario, SOAK } from './support/scenario';

jest.setTimeout(SOAK ? 1_800_000 : 180_000);

describe('reliability: a rolling restart of three replicas under load', () => {
  it('each replica stops gracefully and comes back while traffic flows; every badge converges', async () => {
    const r = await runScenario({
      name: 'rolling',
      replicas: 3,
      users: SOAK ? 3000 : 300,
      durationMs: SOAK ? 120_000 : 16_000,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      schedule: () => (SOAK ? [rollingRestart(10_000), rollingRestart(60_000)] : [rollingRestart(1_500)]),
      convergeTimeoutMs: SOAK ? 600_000 : 90_000,
    });
    expectConverged(r);
    expect(r.faults.rollingRestart).toBe(SOAK ? 6 : 3);
  });
});
