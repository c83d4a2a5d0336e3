import { configServiceOf, loadConfig } from '@badges/config';
import { AuditRepository, PushCount, StatusCounts } from '@badges/store';
import { AuditStatsService } from './audit-stats.service';
import { AuditPrincipal } from './audit-token.guard';
import { ConsumerLagSource } from './consumer-lag';

/** A repository fake that fails on anything the test did not set up. */
function repository(pushes: PushCount[], oldestAgeSeconds: number | null, mode: 'live' | 'shadow' = 'live'): AuditRepository {
  const users: StatusCounts = { pending: 2, in_sync: 5, backing_off: 1, parked: 1, total: 9 };
  const known = {
    countByStatus: async (tenants: string[] | null) => (tenants === null ? users : { ...users, total: tenants.length }),
    dirtySummary: async () => ({ dirty: 3, oldestAgeSeconds }),
    pushesSince: async (seconds: number) => {
      expect(seconds).toBe(3600);
      return pushes;
    },
    serviceMode: async () => ({ mode, since: new Date('2026-11-30T00:00:00Z') }),
    shadowPushes: async (seconds: number) => {
      expect(seconds).toBe(3600);
      return { n: 7200, busiestMinute: 600 };
    },
    appTicketReceivedAt: async (appId: string) => (appId === 'cli_store' ? new Date('2026-11-24T07:00:00Z') : null),
  };
  const overview = async (seconds: number, tenants: string[] | null) => ({
    users: await known.countByStatus(tenants),
    dirty: await known.dirtySummary(),
    pushes: await known.pushesSince(seconds),
    mode: await known.serviceMode(),
  });
  return new Proxy({ ...known, overview }, {
    get: (t, p) => {
      if (p in t) return t[p as keyof typeof t];
      if (p === 'then') return undefined;
      throw new Error(`unexpected call: AuditRepository.${String(p)}`);
    },
  }) as unknown as AuditRepository;
}

const custom = loadConfig({ BADGE_ROLES: 'ingest' });
const everyTenant: AuditPrincipal = { name: 'ops', scopes: new Set(['read']), tenants: null };
const tenantA: AuditPrincipal = { name: 'a-only', scopes: new Set(['read']), tenants: new Set(['tenant_a']) };

describe('AuditStatsService', () => {
  it('folds push counts by outcome and by Feishu code, leaving code-less attempts out of byCode', async () => {
    const sut = new AuditStatsService(
      repository(
        [
          { outcome: 'applied', code: 0, n: 7 },
          { outcome: 'transient', code: null, n: 2 },
          { outcome: 'transient', code: 99991400, n: 1 },
          { outcome: 'version_conflict', code: 213001, n: 3 },
        ],
        12.34567,
      ),
      configServiceOf(custom),
    );
    expect(await sut.stats(everyTenant)).toEqual({
      mode: { feishu: 'live', since: '2026-11-30T00:00:00.000Z', shadow: null },
      users: { pending: 2, in_sync: 5, backing_off: 1, parked: 1, total: 9 },
      dirty: 3,
      oldestPendingAgeSeconds: 12.346,
      pushesLastHour: { byOutcome: { applied: 7, transient: 3, version_conflict: 3 }, byCode: { '0': 7, '99991400': 1, '213001': 3 } },
      consumerLag: null,
      appTicket: null,
    });
  });

  it('reports consumer lag per partition and in total when this process consumes', async () => {
    const lag: ConsumerLagSource = { status: () => ({ lag: { '0': 5, '1': 0, '2': 12 }, lagMeasuredAt: Date.parse('2026-11-24T08:00:00Z') }) };
    const sut = new AuditStatsService(repository([], null), configServiceOf(custom), lag);
    expect(await sut.stats(everyTenant)).toMatchObject({
      oldestPendingAgeSeconds: null,
      consumerLag: { partitions: { '0': 5, '1': 0, '2': 12 }, total: 17, measuredAt: '2026-11-24T08:00:00.000Z' },
    });
  });

  it('says the mode, and in shadow mode the push rate the workload would need (its busiest minute)', async () => {
    const live = await new AuditStatsService(repository([], null), configServiceOf(custom)).stats(everyTenant);
    expect(live.mode).toEqual({ feishu: 'live', since: '2026-11-30T00:00:00.000Z', shadow: null });
    const shadow = await new AuditStatsService(repository([], null, 'shadow'), configServiceOf(custom)).stats(everyTenant);
    expect(shadow.mode).toEqual({ feishu: 'shadow', since: '2026-11-30T00:00:00.000Z', shadow: { pushesLastHour: 7200, averagePerSecond: 2, busiestMinutePerSecond: 10 } });
  });

  it('reports no lag before the first measurement', async () => {
    const lag: ConsumerLagSource = { status: () => ({ lag: {}, lagMeasuredAt: null }) };
    expect((await new AuditStatsService(repository([], null), configServiceOf(custom), lag).stats(everyTenant)).consumerLag).toBeNull();
  });

  it("counts a tenant-restricted token's tenants only, and shows it no consumer lag (every tenant's messages mixed)", async () => {
    const lag: ConsumerLagSource = { status: () => ({ lag: { '0': 5 }, lagMeasuredAt: Date.parse('2026-11-24T08:00:00Z') }) };
    const stats = await new AuditStatsService(repository([], null), configServiceOf(custom), lag).stats(tenantA);
    expect(stats.users.total).toBe(1);
    expect(stats.consumerLag).toBeNull();
  });

  it('reports the app_ticket of a store app (a stats field, not a readiness failure)', async () => {
    const store = loadConfig({ BADGE_ROLES: 'ingest', FEISHU_APP_TYPE: 'store', FEISHU_APP_ID: 'cli_store' });
    expect((await new AuditStatsService(repository([], null), configServiceOf(store)).stats(everyTenant)).appTicket).toEqual({ received: true, receivedAt: '2026-11-24T07:00:00.000Z' });
    const other = loadConfig({ BADGE_ROLES: 'ingest', FEISHU_APP_TYPE: 'store', FEISHU_APP_ID: 'cli_other' });
    expect((await new AuditStatsService(repository([], null), configServiceOf(other)).stats(everyTenant)).appTicket).toEqual({ received: false, receivedAt: null });
  });

  it('concurrent requests for the same tenants share one overview read started after they arrived; other tenants read their own', async () => {
    const reads: Array<{ tenants: string[] | null; done: () => void }> = [];
    const base = repository([], null);
    const gated = new Proxy(base, {
      get: (t, p) =>
        p === 'overview'
          ? async (seconds: number, tenants: string[] | null) => {
              await new Promise<void>((done) => reads.push({ tenants, done }));
              return t.overview(seconds, tenants);
            }
          : t[p as keyof AuditRepository],
    });
    const sut = new AuditStatsService(gated, configServiceOf(custom));
    const flush = () => new Promise((r) => setImmediate(r));
    const first = sut.stats(everyTenant);
    await flush();
    const during = [sut.stats(everyTenant), sut.stats(everyTenant), sut.stats(everyTenant), sut.stats(tenantA)];
    await flush();
    expect(reads.map((r) => r.tenants)).toEqual([null, ['tenant_a']]);
    reads[0].done();
    await first;
    await flush();
    // The three that came during the first read share the next one, not the first.
    expect(reads.map((r) => r.tenants)).toEqual([null, ['tenant_a'], null]);
    reads[1].done();
    reads[2].done();
    const answers = await Promise.all(during);
    expect(answers.map((a) => a.users.total)).toEqual([9, 9, 9, 1]);
    expect(reads).toHaveLength(3);
  });
});
