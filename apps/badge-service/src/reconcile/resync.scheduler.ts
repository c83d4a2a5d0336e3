import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { ADVISORY_LOCKS, ReconcileRepository } from '@badges/store';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';

/**
 * Drift repair: every RESYNC_INTERVAL_MS (jittered), one replica at a time marks users not pushed for
 * RESYNC_AFTER_MS for a full re-push, at most RESYNC_BUDGET_SHARE of the interval's quota, coming due evenly over
 * the interval so that repair never takes more than its share of any second.
 */
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

@Injectable()
export class ResyncScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(ResyncScheduler.name);
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly config: Pick<AppConfig, 'reconcile' | 'feishu'>;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly ds: DataSource,
    private readonly repository: ReconcileRepository,
    private readonly clock: Clock,
  ) {
    this.config = { reconcile: config.get('reconcile', { infer: true }), feishu: config.get('feishu', { infer: true }) };
  }

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
    this.timer = setTimeout(() => void this.runOnce().finally(() => this.schedule()), nextPassInMs(every, this.clock.random()));
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
        const { max, spacingMs } = resyncBatch(r.resyncBudgetShare * this.config.feishu.rateLimit, r.resyncIntervalMs);
        const n = await this.repository.markForResync(r.resyncAfterMs, max, spacingMs);
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
