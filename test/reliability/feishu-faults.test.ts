import { expectConverged, FEISHU_NOISE, latencySpike, outage, runScenario, SOAK, storm429 } from './support/scenario';

jest.setTimeout(SOAK ? 1_800_000 : 180_000);

describe('reliability: Feishu failing in every way it does', () => {
  it('10% 5xx, 5% ambiguous answers, latency spikes, an outage, a 429 storm and 3 s tokens: every badge converges', async () => {
    const s = SOAK ? 10 : 1;
    const r = await runScenario({
      name: 'feishu',
      replicas: 2,
      users: SOAK ? 3000 : 300,
      durationMs: SOAK ? 180_000 : 13_000,
      emulatorEnv: { ...FEISHU_NOISE, EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      schedule: () => [
        latencySpike(1_500 * s, 1_000, 1_500, 2 * s),
        outage(4_000 * s, SOAK ? 60 : 5),
        storm429(10_000 * s, 2.5, 2),
      ],
      convergeTimeoutMs: SOAK ? 600_000 : 90_000,
    });
    expectConverged(r);
    expect(r.faults.http5xx).toBeGreaterThan(0);
    expect(r.faults.ambiguous).toBeGreaterThan(0);
    expect(r.faults.outage503).toBeGreaterThan(0);
    expect(r.faults.storm429).toBeGreaterThan(0);
    expect(r.faults.delayed).toBeGreaterThan(0);
    expect(r.faults.tokensIssued).toBeGreaterThan(1);
  });
});
