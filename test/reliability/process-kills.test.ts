import { expectConverged, moments, runScenario, sigkill, SOAK } from './support/scenario';

jest.setTimeout(SOAK ? 3_600_000 : 180_000);

describe('reliability: service processes SIGKILLed at random moments', () => {
  it('every badge ends equal to its desired sum, with no event lost, after repeated SIGKILLs and restarts', async () => {
    const kills = SOAK ? 12 : 3;
    const durationMs = SOAK ? 240_000 : 12_000;
    const r = await runScenario({
      name: 'kills',
      replicas: 2,
      users: SOAK ? 4000 : 300,
      durationMs,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      schedule: (ctx) => moments(ctx.rng, kills, 1500, durationMs, SOAK ? 12_000 : 2_500).map(sigkill),
      convergeTimeoutMs: SOAK ? 600_000 : 90_000,
    });
    expectConverged(r);
    expect(r.faults.sigkill).toBe(kills);
  });
});
