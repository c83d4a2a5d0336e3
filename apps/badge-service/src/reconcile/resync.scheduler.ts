import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { DatabaseService, ReconcileRepository } from '@badges/store';
import { Clock } from '../common/clock';
import { PeriodicTask } from '../common/periodic-task';

/**
 * One pass of drift repair: users come due one every `spacingMs` (its share of the quota), over one interval at
 * most. Passes start 1–1.5 intervals apart (`nextPassInMs`), so one pass's users are all due before the next pass
 * marks any: repair never takes more than its share of any second.
 */
export function resyncBatch(perSecond: number, intervalMs: number): { max: number; spacingMs: number } {
  const spacingMs = 1000 / perSecond;
  return { max: Math.max(1, Math.floor(intervalMs / spacingMs)), spacingMs };
}

export const nextPassInMs = (intervalMs: number, random: number): number => intervalMs * (1 + random / 2);

/**
 * Drift repair: every RESYNC_INTERVAL_MS (jittered), one replica at a time marks users not pushed for
 * RESYNC_AFTER_MS for a full re-push, at most RESYNC_BUDGET_SHARE of the interval's quota, coming due evenly over
 * the interval so that repair never takes more than its share of any second.
 */
@Injectable()
export class ResyncScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(ResyncScheduler.name);
  private readonly task = new PeriodicTask({
    name: 'drift repair',
    run: () => this.runOnce(),
    firstDelayMs: () => this.nextPass(),
    nextDelayMs: () => this.nextPass(),
    log: this.log,
    failureLevel: 'warn',
  });
  private readonly config: Pick<AppConfig, 'reconcile' | 'feishu'>;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly repository: ReconcileRepository,
    private readonly clock: Clock,
  ) {
    this.config = { reconcile: config.get('reconcile', { infer: true }), feishu: config.get('feishu', { infer: true }) };
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One pass: how many users were marked (0 when another replica holds the lock). */
  async runOnce(): Promise<number> {
    const pass = await this.database.tryLock('resync', async () => {
      const r = this.config.reconcile;
      // At most the share of the quota over the interval, and spread over it: one user every `spacingMs`.
      const { max, spacingMs } = resyncBatch(r.resyncBudgetShare * this.config.feishu.rateLimit, r.resyncIntervalMs);
      const n = await this.repository.markForResync(r.resyncAfterMs, max, spacingMs);
      if (n > 0) this.log.log({ users: n }, 'drift repair: users marked for a full re-push');
      return n;
    });
    return pass.acquired ? pass.result : 0;
  }

  private nextPass(): number {
    return nextPassInMs(this.config.reconcile.resyncIntervalMs, this.clock.random());
  }
}
