import { expectConverged, moments, runScenario, sigkill, sigkillInTurn, SOAK, startupFigures } from './support/scenario';

/**
 * RELIABILITY_DENSE=1 selects the dense variant: one SIGKILL every ~9 s (the two replicas in turn), ten within 90 s of
 * load, for the start-up figure of bench/RELIABILITY.md (time from process start to /health/live and to its first
 * push).
 */
const DENSE = process.env.RELIABILITY_DENSE === '1';
const V = DENSE
  ? { kills: 10, from: 2_000, to: 92_000, gap: 8_000, durationMs: 96_000, users: 1500, convergeTimeoutMs: 300_000 }
  : SOAK
    ? { kills: 12, from: 1500, to: 240_000, gap: 12_000, durationMs: 240_000, users: 4000, convergeTimeoutMs: 600_000 }
    : { kills: 3, from: 1500, to: 12_000, gap: 2_500, durationMs: 12_000, users: 300, convergeTimeoutMs: 90_000 };
/** A restarted replica must not wait for its group join (which waits for the dead member, up to 60 s) to serve HTTP. */
const LIVE_WITHIN_MS = 15_000;

jest.setTimeout(SOAK || DENSE ? 3_600_000 : 180_000);

describe('reliability: service processes SIGKILLed at random moments', () => {
  it('every badge ends equal to its desired sum, with no event lost, after repeated SIGKILLs and restarts', async () => {
    const r = await runScenario({
      name: DENSE ? 'kills-dense' : 'kills',
      replicas: 2,
      users: V.users,
      durationMs: V.durationMs,
      emulatorEnv: { EMULATOR_RATE_LIMIT: '100' },
      serviceEnv: { FEISHU_RATE_LIMIT: '100' },
      // Dense: the two replicas in turn, so each restart has two gaps (~18 s) to come up before its next kill.
      schedule: (ctx) => moments(ctx.rng, V.kills, V.from, V.to, V.gap).map(DENSE ? sigkillInTurn : sigkill),
      convergeTimeoutMs: V.convergeTimeoutMs,
    });
    expectConverged(r);
    expect(r.faults.sigkill).toBe(V.kills);
    expect(r.startups).toHaveLength(V.kills);
    // Every restart answered /health/live within seconds, unless it was killed again sooner.
    for (const s of r.startups) {
      if (s.liveMs !== null) expect(s.liveMs).toBeLessThan(LIVE_WITHIN_MS);
      else expect(s.endedAfterMs).toBeLessThan(LIVE_WITHIN_MS);
    }
    process.stdout.write(`[reliability] ${r.name} restarts: ${JSON.stringify(startupFigures(r.startups))}\n`);
  });
});
