import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { ADVISORY_LOCKS, ReconcileRepository } from '@badges/store';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';

/**
 * Drift repair: every RESYNC_INTERVAL_MS (jittered), one replica at a time marks users not pushed for
 * RESYNC_AFTER_MS for a full re-push, at most RESYNC_BUDGET_SHARE of the interval's quota, coming due evenly over
 * the interval so that repair never takes more than its share of any second.
 */
@Injectable()
export class ResyncScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ResyncScheduler.name);
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ds: DataSource,
    private readonly repository: ReconcileRepository,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    const every = this.config.reconcile.resyncIntervalMs;
    this.timer = setTimeout(() => void this.runOnce().finally(() => this.schedule()), every / 2 + this.clock.random() * every);
    this.timer.unref();
  }

  async runOnce(): Promise<number> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [ADVISORY_LOCKS.resync]);
      if (!locked) return 0;
      try {
        const r = this.config.reconcile;
        // At most the share of the quota over the interval, and spread over it: one user every `spacingMs`.
        const perSecond = r.resyncBudgetShare * this.config.feishu.rateLimit;
        const max = Math.max(1, Math.floor((perSecond * r.resyncIntervalMs) / 1000));
        const n = await this.repository.markForResync(r.resyncAfterMs, max, 1000 / perSecond);
        if (n > 0) this.log.log({ users: n }, 'drift repair: users marked for a full re-push');
        return n;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.resync]);
      }
    } catch (e) {
      this.log.warn({ err: e }, 'drift repair failed');
      return 0;
    } finally {
      await runner.release();
    }
  }
}
