import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { addDays, auditDay, AuditPartitionsRepository, MaintenancePlan, MaintenanceReport } from '@badges/store';
import { Clock } from '../common/clock';
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
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private stopped = false;
  private readonly retentionDays: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly partitions: AuditPartitionsRepository,
    private readonly clock: Clock,
  ) {
    this.retentionDays = config.get('audit', { infer: true }).retentionDays;
  }

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
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

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.runOnce().then(
        (r) => this.schedule(r?.failed.length ? AUDIT.maintenanceRetryMs : this.nextDelay()),
        (e: unknown) => {
          this.log.error({ err: e }, 'audit maintenance failed');
          this.schedule(AUDIT.maintenanceRetryMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private nextDelay(): number {
    const spread = AUDIT.maintenanceIntervalMs * AUDIT.maintenanceJitter;
    return Math.round(AUDIT.maintenanceIntervalMs - spread + 2 * spread * this.clock.random());
  }
}
