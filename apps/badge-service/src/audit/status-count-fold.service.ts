import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { StatusCountsRepository } from '@badges/store';
import { Clock } from '../common/clock';
import { jittered, PeriodicTask } from '../common/periodic-task';
import { AUDIT } from './audit.constants';

/**
 * Folds the deltas the badge_state and badge_audit triggers append (users per status, pushes per minute) into the
 * totals GET /v1/stats reads, every few seconds
 * on every replica. The read is exact without it (it sums totals and pending deltas); the fold keeps the deltas
 * short. Folds of several replicas may overlap: each delta is taken by one of them (DELETE … RETURNING).
 */
@Injectable()
export class StatusCountFoldService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(StatusCountFoldService.name);
  private readonly task = new PeriodicTask({
    name: 'status count fold',
    run: () => this.counts.fold(2 * AUDIT.pushWindowSeconds),
    firstDelayMs: () => this.interval(),
    nextDelayMs: () => this.interval(),
    log: this.log,
    failureLevel: 'warn',
  });

  constructor(
    private readonly counts: StatusCountsRepository,
    private readonly clock: Clock,
  ) {}

  private interval(): number {
    return jittered(AUDIT.statusFoldIntervalMs, AUDIT.maintenanceJitter, this.clock.random());
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }
}
