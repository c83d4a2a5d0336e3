import { Logger } from '@nestjs/common';
import { configServiceOf, loadConfig } from '@badges/config';
import { addDays, auditDay, AuditPartitionsRepository, dayStart, MaintenanceReport, partitionDay, partitionName } from '@badges/store';
import { Clock } from '../common/clock';
import { AuditRetentionService, maintenancePlan } from './audit-retention.service';
import { AUDIT } from './audit.constants';

describe('audit partition days', () => {
  it('name partitions by UTC day and read them back', () => {
    expect(partitionName('2026-11-24')).toBe('badge_audit_p20261124');
    expect(partitionDay('badge_audit_p20261124')).toBe('2026-11-24');
    expect(partitionDay('badge_audit_default')).toBeNull();
    expect(partitionDay('badge_audit_p20261332')).toBeNull();
  });

  it('refuse anything but a real day, so nothing else reaches SQL text', () => {
    for (const bad of ['2026-02-30', '2026-1-1', "2026-11-24'; DROP TABLE badge_state; --", '']) {
      expect(() => partitionName(bad)).toThrow();
    }
  });

  it('count days in UTC across months and years', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(auditDay(Date.UTC(2026, 10, 24, 23, 59, 59, 999))).toBe('2026-11-24');
    expect(dayStart('2026-11-24').toISOString()).toBe('2026-11-24T00:00:00.000Z');
  });
});

describe('maintenancePlan', () => {
  it('keeps yesterday through three days ahead and drops what ended retention days ago', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    const plan = maintenancePlan(now, 7);
    expect(plan.days).toEqual(['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27']);
    expect(plan.dropBefore.toISOString()).toBe('2026-11-17T10:00:00.000Z');
  });

  it('never drops a partition it wants to keep, even with one day of retention', () => {
    const now = Date.parse('2026-11-24T00:00:01Z');
    const plan = maintenancePlan(now, 1);
    const oldestEnd = dayStart(addDays(plan.days[0], 1)).getTime();
    expect(oldestEnd).toBeGreaterThan(plan.dropBefore.getTime());
  });
});

describe('AuditRetentionService passes', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** Partitions that answer each pass from `reports` (an Error is thrown), and fail on anything else. */
  function partitions(reports: (MaintenanceReport | null | Error)[]) {
    const passes: number[] = [];
    const known = {
      databaseNow: async () => Date.parse('2026-11-24T10:00:00Z'),
      maintain: async () => {
        passes.push(Date.now());
        const r = reports.shift();
        if (r === undefined) throw new Error('more passes than the test set up');
        if (r instanceof Error) throw r;
        return r;
      },
    };
    const repository = new Proxy(known, {
      get: (t, p) => {
        if (p in t) return t[p as keyof typeof t];
        if (p === 'then') return undefined;
        throw new Error(`unexpected call: AuditPartitionsRepository.${String(p)}`);
      },
    }) as unknown as AuditPartitionsRepository;
    return { repository, passes };
  }
  const ok: MaintenanceReport = { created: [], moved: 0, dropped: [], failed: [] };
  const partly: MaintenanceReport = { ...ok, failed: [{ day: '2026-11-27', action: 'create', error: 'lock timeout' }] };
  const clock = Object.assign(new Clock(), { random: () => 0.5 });

  it('runs at start, again after a minute when a pass failed or partly failed, and hourly otherwise', async () => {
    Logger.overrideLogger(false);
    const { repository, passes } = partitions([partly, new Error('database down'), null, ok, ok]);
    const sut = new AuditRetentionService(configServiceOf(loadConfig({ BADGE_ROLES: 'ingest' })), repository, clock);
    const t0 = Date.now();
    sut.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    await jest.advanceTimersByTimeAsync(AUDIT.maintenanceRetryMs);
    await jest.advanceTimersByTimeAsync(AUDIT.maintenanceRetryMs);
    await jest.advanceTimersByTimeAsync(AUDIT.maintenanceIntervalMs);
    await jest.advanceTimersByTimeAsync(AUDIT.maintenanceIntervalMs);
    await sut.beforeApplicationShutdown();
    const hour = AUDIT.maintenanceIntervalMs;
    const minute = AUDIT.maintenanceRetryMs;
    // partly failed → a minute; failed → a minute; skipped (another replica) → an hour; done → an hour.
    expect(passes.map((t) => t - t0)).toEqual([0, minute, 2 * minute, 2 * minute + hour, 2 * minute + 2 * hour]);
  });
});
