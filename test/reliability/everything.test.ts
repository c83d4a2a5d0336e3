import {
  expectConverged,
  FEISHU_NOISE,
  kafkaRestart,
  latencySpike,
  moments,
  outage,
  postgresRestart,
  rollingRestart,
  runScenario,
  sigkill,
  SOAK,
  storm429,
} from './support/scenario';

jest.setTimeout(SOAK ? 3_600_000 : 300_000);

describe('reliability: everything at once', () => {
  it('kills, broker and Postgres restarts, a rolling restart, Feishu faults and hostile messages together: every badge converges', async () => {
    const kills = SOAK ? 10 : 3;
    const durationMs = SOAK ? 300_000 : 22_000;
    const hostile = SOAK ? 10_000 : 1_000;
    const x = durationMs / 25_000;
    const r = await runScenario({
      name: 'everything',
      replicas: 3,
      users: SOAK ? 5000 : 400,
      durationMs,
      hostile,
      emulatorEnv: { ...FEISHU_NOISE, EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      // Two lanes side by side: processes and infrastructure (one thing at a time, so that a replica is never
      // restarted while the broker or Postgres is away), and Feishu (overlapping all of it).
      schedule: (ctx) => [
        ...moments(ctx.rng, kills, 1_000, durationMs, SOAK ? 20_000 : 1_000).map(sigkill),
        kafkaRestart(5_000 * x),
        postgresRestart(10_000 * x),
        rollingRestart(14_000 * x),
        latencySpike(2_000 * x, 1_000, 1_500, 3 * x),
        outage(7_000 * x, SOAK ? 60 : 5),
        storm429(14_000 * x, 3, 2),
      ],
      convergeTimeoutMs: SOAK ? 900_000 : 120_000,
    });
    expectConverged(r);
    expect(r.faults.sigkill).toBe(kills);
    expect(r.faults.kafkaRestart).toBe(1);
    expect(r.faults.postgresRestart).toBe(1);
    expect(r.faults.rollingRestart).toBe(3);
    expect(r.faults.http5xx).toBeGreaterThan(0);
    expect(r.faults.ambiguous).toBeGreaterThan(0);
    expect(r.faults.outage503).toBeGreaterThan(0);
    expect(r.faults.storm429).toBeGreaterThan(0);
    // Replays after kills may dead-letter a message twice (at least once); none is missing, nothing else is there.
    expect(r.dlq!.missing).toEqual([]);
    expect(r.dlq!.matched).toBe(hostile);
    expect(r.dlq!.total).toBeGreaterThanOrEqual(hostile);
    expect(r.dlq!.withReason).toBe(r.dlq!.total);
    expect(r.dlq!.foreign).toBe(0);
    expect(r.dlq!.valueMismatch).toBe(0);
  });
});
