import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { addDays, auditDay, AuditPartitionsRepository, MaintenancePlan, MaintenanceReport } from '@badges/store';
import { Clock } from '../common/clock';
import { jittered, PeriodicTask } from '../common/periodic-task';
import { AUDIT } from './audit.constants';

const DAY_MS = 86_400_000;

/** The partitions the trail needs at `now`, and the instant before which whole partitions are dropped. */
export function maintenancePlan(now: number, retentionDays: number): MaintenancePlan {
  const today = auditDay(now);
  const days: string[] = [];
  for (let d = -AUDIT.partitionsBehindDays; d <= AUDIT.partitionsAheadDays; d++) days.push(addDays(today, d));
  return { days, dropBefore: new Date(now - retentionDays * DAY_MS) };
}

/**
 * Keeps badge_audit's daily partitions: created ahead of time (so rows never pile up in the default partition) and
 * dropped once past retention. Runs in every role, since ingest and reconcile write the trail; one replica at a
 * time does the work (advisory lock), the others skip that pass.
 */
@Injectable()
export class AuditRetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(AuditRetentionService.name);
  private readonly task = new PeriodicTask({
    name: 'audit maintenance',
    run: () => this.runOnce(),
    firstDelayMs: () => 0,
    // After a failed pass (database down, lock timeout), again sooner than the hour.
    nextDelayMs: (pass) =>
      pass.ok && !pass.value?.failed.length
        ? jittered(AUDIT.maintenanceIntervalMs, AUDIT.maintenanceJitter, this.clock.random())
        : AUDIT.maintenanceRetryMs,
    log: this.log,
  });
  private readonly retentionDays: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly partitions: AuditPartitionsRepository,
    private readonly clock: Clock,
  ) {
    this.retentionDays = config.get('audit', { infer: true }).retentionDays;
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One pass; null when another replica holds the maintenance lock. */
  async runOnce(): Promise<MaintenanceReport | null> {
    // The rows' `at` comes from the database's clock, so the partitions they need and the ones past retention
    // are decided by it, not by this process's clock.
    const now = await this.partitions.databaseNow();
    const report = await this.partitions.maintain(maintenancePlan(now, this.retentionDays));
    if (report === null) {
      this.log.debug('audit maintenance skipped: another replica holds the lock');
    } else if (report.failed.length > 0) {
      this.log.warn({ ...report }, 'audit maintenance partly failed; retried next pass');
    } else if (report.created.length + report.dropped.length > 0) {
      this.log.log({ ...report }, 'audit partitions maintained');
    }
    return report;
  }
}
