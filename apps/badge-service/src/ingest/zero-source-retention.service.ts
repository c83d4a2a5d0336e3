import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { ADVISORY_LOCKS, IngestRepository } from '@badges/store';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';

export const ZERO_SOURCE_RETENTION = {
  intervalMs: 3_600_000,
  /** Each replica's next pass is spread over ±10% of the interval. */
  jitter: 0.1,
  /** Rows per DELETE: short statements, so ingest's row locks are never waited on for long. */
  batch: 5_000,
  /** A pass stops after this many batches and leaves the rest to the next one. */
  maxBatchesPerPass: 200,
} as const;

/**
 * Drops sources that have been all zeros for SOURCE_ZERO_RETENTION_MS (database clock), so a user's stored sources,
 * which every event of that user sums under its lock, do not grow without bound. One replica at a time (advisory
 * lock); the others skip the pass. Dropping changes no desired sum. A dropped source's sequence is forgotten: an
 * event older than the one that cleared it, delivered after the retention, is accepted as new. Kafka cannot
 * redeliver one that late while SOURCE_ZERO_RETENTION_MS is at least the topic's retention.ms (README).
 */
@Injectable()
export class ZeroSourceRetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(ZeroSourceRetentionService.name);
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<unknown>;
  private stopped = false;
  private readonly retentionMs: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly ds: DataSource,
    private readonly repository: IngestRepository,
    private readonly clock: Clock,
  ) {
    this.retentionMs = config.get('ingest', { infer: true }).zeroSourceRetentionMs;
  }

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** One pass: how many sources were dropped, or null when another replica holds the lock. */
  async runOnce(): Promise<number | null> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [ADVISORY_LOCKS.zeroSourceRetention]);
      if (!locked) return null;
      try {
        let dropped = 0;
        for (let i = 0; i < ZERO_SOURCE_RETENTION.maxBatchesPerPass && !this.stopped; i++) {
          const n = await this.repository.dropZeroSources(this.retentionMs, ZERO_SOURCE_RETENTION.batch);
          dropped += n;
          if (n < ZERO_SOURCE_RETENTION.batch) break;
        }
        if (dropped > 0) this.log.log({ dropped }, 'zero sources past retention dropped');
        return dropped;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.zeroSourceRetention]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const { intervalMs, jitter } = ZERO_SOURCE_RETENTION;
    const delay = Math.round(intervalMs * (1 - jitter + 2 * jitter * this.clock.random()));
    this.timer = setTimeout(() => {
      this.inFlight = this.runOnce()
        .catch((e: unknown) => this.log.warn({ err: e }, 'zero-source retention failed; retried next pass'))
        .finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }
}
