import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { ReadinessRegistry } from './readiness.registry';
import { ReadinessService } from './readiness.service';

async function setup() {
  const ref = await Test.createTestingModule({ imports: [TerminusModule.forRoot({ logger: false })], providers: [ReadinessRegistry, ReadinessService] }).compile();
  return { ref, registry: ref.get(ReadinessRegistry), sut: ref.get(ReadinessService) };
}

describe('ReadinessService (the registered checks as terminus indicators)', () => {
  it('answers in the contract shape, not terminus’s, ok only when every check is', async () => {
    const { registry, sut } = await setup();
    registry.register('database', () => ({ ok: true }));
    registry.register('reconcile', async () => ({ ok: true, detail: { lastTickAgeMs: 12, inflight: 0 } }));
    expect(await sut.run()).toEqual({ ok: true, checks: { database: { ok: true }, reconcile: { ok: true, detail: { lastTickAgeMs: 12, inflight: 0 } } } });

    registry.register('ingest', () => ({ ok: false, detail: { phase: 'joining' } }));
    expect(await sut.run()).toEqual({
      ok: false,
      checks: { database: { ok: true }, reconcile: { ok: true, detail: { lastTickAgeMs: 12, inflight: 0 } }, ingest: { ok: false, detail: { phase: 'joining' } } },
    });
  });

  it('shows booleans, numbers and codes of a detail, and drops free text', async () => {
    const { registry, sut } = await setup();
    registry.register('ingest', () => ({
      ok: false,
      detail: { phase: 'connecting', phaseForMs: 1200, running: false, assignedPartitions: [0, 2], lastError: 'Connection error: connect ECONNREFUSED 10.0.0.7:9092 (user alice)' },
    }));

    expect(await sut.run()).toEqual({
      ok: false,
      checks: { ingest: { ok: false, detail: { phase: 'connecting', phaseForMs: 1200, running: false, assignedPartitions: [0, 2] } } },
    });
  });

  it("reports a check that throws by the error's code, never its message, and still runs the others", async () => {
    const { registry, sut } = await setup();
    registry.register('database', () => {
      throw Object.assign(new Error('password authentication failed for user "badges" at postgres://badges:pw@db/badges'), { code: '28P01' });
    });
    registry.register('other', async () => {
      throw new Error('something with a secret');
    });
    registry.register('feishu', () => ({ ok: true }));

    const r = await sut.run();

    expect(r).toEqual({ ok: false, checks: { database: { ok: false, detail: { error: '28P01' } }, other: { ok: false, detail: { error: 'Error' } }, feishu: { ok: true } } });
    expect(JSON.stringify(r)).not.toMatch(/password|secret/);
  });

  it('fails once draining, whatever the checks say', async () => {
    const { registry, sut } = await setup();
    registry.register('database', () => ({ ok: true }));
    expect((await sut.run()).ok).toBe(true);

    registry.drain();

    expect(await sut.run()).toEqual({ ok: false, checks: { database: { ok: true }, shutdown: { ok: false, detail: { draining: true } } } });
  });

  it('fails while Nest is closing, though nothing drained it', async () => {
    const { ref, registry, sut } = await setup();
    registry.register('database', () => ({ ok: true }));
    await ref.close();

    expect(await sut.run()).toEqual({ ok: false, checks: { database: { ok: true }, shutdown: { ok: false, detail: { draining: true } } } });
  });
});
