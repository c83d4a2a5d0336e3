import { ReadinessRegistry } from './readiness.registry';

describe('ReadinessRegistry', () => {
  it('shows booleans, numbers and codes of a detail, and drops free text', async () => {
    const sut = new ReadinessRegistry();
    sut.register('ingest', () => ({
      ok: false,
      detail: { phase: 'connecting', phaseForMs: 1200, running: false, assignedPartitions: [0, 2], lastError: 'Connection error: connect ECONNREFUSED 10.0.0.7:9092 (user alice)' },
    }));

    expect(await sut.run()).toEqual({
      ok: false,
      checks: { ingest: { ok: false, detail: { phase: 'connecting', phaseForMs: 1200, running: false, assignedPartitions: [0, 2] } } },
    });
  });

  it("reports a check that throws by the error's code, never its message", async () => {
    const sut = new ReadinessRegistry();
    sut.register('database', () => {
      throw Object.assign(new Error('password authentication failed for user "badges" at postgres://badges:pw@db/badges'), { code: '28P01' });
    });
    sut.register('other', () => {
      throw new Error('something with a secret');
    });

    const r = await sut.run();

    expect(r.checks).toEqual({ database: { ok: false, detail: { error: '28P01' } }, other: { ok: false, detail: { error: 'Error' } } });
    expect(JSON.stringify(r)).not.toMatch(/password|secret/);
  });

  it('fails once draining, whatever the checks say', async () => {
    const sut = new ReadinessRegistry();
    sut.register('database', () => ({ ok: true }));
    expect((await sut.run()).ok).toBe(true);

    sut.drain();

    expect(await sut.run()).toEqual({ ok: false, checks: { database: { ok: true }, shutdown: { ok: false, detail: { draining: true } } } });
  });
});
