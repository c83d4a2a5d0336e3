import { Inject, Injectable, Optional } from '@nestjs/common';
import { AuditRepository } from '@badges/store';
import { AUDIT } from './audit.constants';
import { ConsumerLagView, PushesView, StatsView } from './audit-responses.dto';
import { CONSUMER_LAG, ConsumerLagSource } from './consumer-lag';

/** Deployment-wide totals for operators; each figure comes from an index, none from a scan of the audit trail. */
@Injectable()
export class AuditStatsService {
  constructor(
    private readonly repository: AuditRepository,
    @Optional() @Inject(CONSUMER_LAG) private readonly lag?: ConsumerLagSource,
  ) {}

  async stats(): Promise<StatsView> {
    const [users, dirty, pushes] = await Promise.all([
      this.repository.countByStatus(),
      this.repository.dirtySummary(),
      this.repository.pushesSince(AUDIT.pushWindowSeconds),
    ]);
    const pushesLastHour: PushesView = { byOutcome: {}, byCode: {} };
    for (const p of pushes) {
      const outcome = p.outcome ?? 'unknown';
      pushesLastHour.byOutcome[outcome] = (pushesLastHour.byOutcome[outcome] ?? 0) + p.n;
      if (p.code !== null) pushesLastHour.byCode[String(p.code)] = (pushesLastHour.byCode[String(p.code)] ?? 0) + p.n;
    }
    return {
      users,
      dirty: dirty.dirty,
      oldestPendingAgeSeconds: dirty.oldestAgeSeconds === null ? null : Math.max(0, Math.round(dirty.oldestAgeSeconds * 1000) / 1000),
      pushesLastHour,
      consumerLag: this.consumerLag(),
    };
  }

  private consumerLag(): ConsumerLagView | null {
    if (!this.lag) return null;
    const { lag, lagMeasuredAt } = this.lag.status();
    if (lagMeasuredAt === null) return null;
    const partitions = { ...lag };
    const total = Object.values(partitions).reduce((n, x) => n + x, 0);
    return { partitions, total, measuredAt: new Date(lagMeasuredAt).toISOString() };
  }
}
