import { expectConverged, postgresRestart, runScenario, SOAK } from './support/scenario';

jest.setTimeout(SOAK ? 1_800_000 : 180_000);

describe('reliability: Postgres restarted mid-stream', () => {
  it('the service reconnects by itself and every badge converges', async () => {
    const r = await runScenario({
      name: 'postgres',
      replicas: 2,
      users: SOAK ? 3000 : 300,
      durationMs: SOAK ? 120_000 : 10_000,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      // One restart only: Postgres is shared with everyone else's tests.
      schedule: () => [postgresRestart(SOAK ? 40_000 : 3_500)],
      convergeTimeoutMs: SOAK ? 600_000 : 90_000,
    });
    expectConverged(r);
    expect(r.faults.postgresRestart).toBe(1);
  });
});
