import type { AuditLookbackRepository, PushSeriesRow } from '@badges/store';
import { isAuditInstant } from './audit-requests.dto';
import { AuditSeriesService } from './audit-series.service';
import type { AuditPrincipal } from './audit-token.guard';

const T0 = Date.parse('2026-11-24T08:00:00.000Z');
const MIN = 60_000;
const all: AuditPrincipal = { name: 'ops', scopes: new Set(['read']), tenants: null } as unknown as AuditPrincipal;

/** Only the two reads the service makes; anything else it called would be undefined and throw. */
function repo(rows: PushSeriesRow[], seen: unknown[][]): AuditLookbackRepository {
  return {
    seriesWindow: async (minutes: number) => ({ fromMs: T0, toMs: T0 + minutes * MIN }),
    pushSeries: async (...args: unknown[]) => (seen.push(args), rows),
  } as unknown as AuditLookbackRepository;
}

const row = (minute: number, outcome: string | null, n: number, lag?: [number, number, number, number]): PushSeriesRow => ({
  minute_ms: T0 + minute * MIN,
  outcome,
  n,
  lag_n: lag?.[0] ?? 0,
  lag_p50_ms: lag?.[1] ?? null,
  lag_p95_ms: lag?.[2] ?? null,
  lag_max_ms: lag?.[3] ?? null,
});

describe('AuditSeriesService', () => {
  it('gives every minute of the window, oldest first, with the rows folded into their minute', async () => {
    const seen: unknown[][] = [];
    const sut = new AuditSeriesService(repo([row(0, 'applied', 3, [3, 10.4, 19.6, 20]), row(0, 'transient', 1), row(59, null, 2)], seen));
    const s = await sut.series(all, 1);
    expect(s.buckets).toHaveLength(60);
    expect(s.buckets[0]).toEqual({ at: '2026-11-24T08:00:00.000Z', pushes: { applied: 3, transient: 1 }, eventToApplied: { count: 3, p50Ms: 10, p95Ms: 20, maxMs: 20 } });
    expect(s.buckets[59]).toEqual({ at: '2026-11-24T08:59:00.000Z', pushes: { unknown: 2 }, eventToApplied: null });
    expect(s.buckets.slice(1, 59).every((b) => Object.keys(b.pushes).length === 0 && b.eventToApplied === null)).toBe(true);
    expect(s).toMatchObject({ from: '2026-11-24T08:00:00.000Z', to: '2026-11-24T09:00:00.000Z', bucketSeconds: 60, outcomes: ['applied', 'transient', 'unknown'] });
    expect(seen).toEqual([[T0, T0 + 60 * MIN, null]]);
  });

  it("reads only a restricted token's tenants", async () => {
    const seen: unknown[][] = [];
    await new AuditSeriesService(repo([], seen)).series({ ...all, tenants: new Set(['t-a']) } as AuditPrincipal, 2);
    expect(seen).toEqual([[T0, T0 + 120 * MIN, ['t-a']]]);
  });
});

describe('isAuditInstant (?at=)', () => {
  it.each(['2026-11-24T08:00:00Z', '2026-11-24T08:00:00.123456Z', '2026-11-24T08:00Z', '2026-11-24T09:00:00+01:00', '2024-02-29T00:00:00-05:30'])('accepts %s', (v) =>
    expect(isAuditInstant(v)).toBe(true),
  );
  it.each(['', 'now', '2026-11-24', '2026-11-24T08:00:00', '2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-11-24T24:00:00Z', '2026-13-01T00:00:00Z', '2026-11-24T08:00:00.1234567Z', '1969-12-31T23:59:59Z', 42])(
    'refuses %p',
    (v) => expect(isAuditInstant(v)).toBe(false),
  );

  it('concurrent equal requests share one read started after they arrived; other hours or tenants read their own', async () => {
    const gates: Array<() => void> = [];
    const seen: unknown[][] = [];
    const base = repo([], seen);
    const gated = {
      seriesWindow: async (minutes: number) => {
        await new Promise<void>((open) => gates.push(open));
        return base.seriesWindow(minutes);
      },
      pushSeries: base.pushSeries,
    } as unknown as AuditLookbackRepository;
    const tenantA = { name: 'a', scopes: new Set(['read']), tenants: new Set(['tenant_a']) } as unknown as AuditPrincipal;
    const sut = new AuditSeriesService(gated);
    const flush = () => new Promise((r) => setImmediate(r));
    const first = sut.series(all, 1);
    await flush();
    const during = [sut.series(all, 1), sut.series(all, 1), sut.series(all, 2), sut.series(tenantA, 1)];
    await flush();
    expect(gates).toHaveLength(3); // the first read, hours 2, tenant_a; the two equal ones wait
    gates.forEach((open) => open());
    await first;
    await flush();
    expect(gates).toHaveLength(4); // one more read, shared by the two that came during the first
    gates[3]();
    const answers = await Promise.all(during);
    expect(answers.map((a) => a.buckets.length)).toEqual([60, 60, 120, 60]);
    expect(answers[0]).toBe(answers[1]);
    expect(seen.map((a) => a[2])).toEqual([null, null, ['tenant_a'], null]);
  });
});
