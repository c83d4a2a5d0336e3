import { addDays, auditDay, dayStart, partitionDay, partitionName } from '@badges/store';
import { maintenancePlan } from './audit-retention.service';

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
