import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { DatabaseService, IngestRepository } from '@badges/store';
import { Clock } from '../common/clock';
import { jittered, PeriodicTask } from '../common/periodic-task';

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
  private readonly task = new PeriodicTask({
    name: 'zero-source retention',
    run: (signal) => this.runOnce(signal),
    firstDelayMs: () => this.nextDelay(),
    nextDelayMs: () => this.nextDelay(),
    log: this.log,
    failureLevel: 'warn',
  });
  private readonly retentionMs: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly repository: IngestRepository,
    private readonly clock: Clock,
  ) {
    this.retentionMs = config.get('ingest', { infer: true }).zeroSourceRetentionMs;
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One pass: how many sources were dropped, or null when another replica holds the lock. Stops early on `signal`. */
  async runOnce(signal?: AbortSignal): Promise<number | null> {
    const pass = await this.database.tryLock('zeroSourceRetention', async () => {
      let dropped = 0;
      for (let i = 0; i < ZERO_SOURCE_RETENTION.maxBatchesPerPass && !signal?.aborted; i++) {
        const n = await this.repository.dropZeroSources(this.retentionMs, ZERO_SOURCE_RETENTION.batch);
        dropped += n;
        if (n < ZERO_SOURCE_RETENTION.batch) break;
      }
      if (dropped > 0) this.log.log({ dropped }, 'zero sources past retention dropped');
      return dropped;
    });
    return pass.acquired ? pass.result : null;
  }

  private nextDelay(): number {
    return jittered(ZERO_SOURCE_RETENTION.intervalMs, ZERO_SOURCE_RETENTION.jitter, this.clock.random());
  }
}
