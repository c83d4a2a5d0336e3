import { expectConverged, kafkaRestart, runScenario, SOAK } from './support/scenario';

jest.setTimeout(SOAK ? 1_800_000 : 240_000);

describe('reliability: the Kafka broker stopped and started again mid-stream', () => {
  it('consumers and producers ride through the broker restart and every badge converges', async () => {
    const r = await runScenario({
      name: 'kafka',
      replicas: 2,
      users: SOAK ? 3000 : 300,
      durationMs: SOAK ? 120_000 : 10_000,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      // One restart only: the broker is shared with everyone else's tests.
      schedule: () => [kafkaRestart(SOAK ? 40_000 : 3_000)],
      convergeTimeoutMs: SOAK ? 600_000 : 120_000,
    });
    expectConverged(r);
    expect(r.faults.kafkaRestart).toBe(1);
  });
});
