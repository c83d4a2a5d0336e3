import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the service exports, named by Prometheus conventions, in one place. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly eventsConsumed = this.counter('badge_events_consumed_total', 'Kafka messages read by ingest');
  readonly eventsApplied = this.counter('badge_events_applied_total', 'Events that changed a source (newest sequence)');
  readonly eventsStale = this.counter('badge_events_stale_total', 'Events ignored as stale or duplicate');
  readonly eventsDeadLettered = new Counter({
    name: 'badge_events_dead_lettered_total',
    help: 'Malformed messages sent to the dead-letter topic, by failed field',
    labelNames: ['field'] as const,
    registers: [this.registry],
  });
  readonly ingestBatchSize = new Histogram({
    name: 'badge_ingest_batch_size',
    help: 'Messages per applied ingest transaction',
    buckets: [1, 10, 50, 100, 500, 1000, 2000, 5000, 10000],
    registers: [this.registry],
  });
  readonly ingestBatchSeconds = new Histogram({
    name: 'badge_ingest_batch_duration_seconds',
    help: 'Time to apply one ingest batch to Postgres',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly ingestRetries = this.counter('badge_ingest_retries_total', 'Ingest batches retried after a database error');
  readonly consumerLag = new Gauge({
    name: 'badge_consumer_lag',
    help: 'Messages behind the end of each input partition',
    labelNames: ['partition'] as const,
    registers: [this.registry],
  });
  readonly consumerRestarts = this.counter('badge_consumer_restarts_total', 'Kafka consumer restarts after a crash');
  readonly dirtyUsers = new Gauge({ name: 'badge_dirty_users', help: 'Users whose desired badge is not yet at Feishu', registers: [this.registry] });
  readonly oldestPendingSeconds = new Gauge({
    name: 'badge_oldest_pending_age_seconds',
    help: 'Age of the oldest desired change not yet at Feishu',
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'badge_pushes_total',
    help: 'app_badge/set attempts by outcome and Feishu code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry],
  });
  readonly pushSeconds = new Histogram({
    name: 'badge_push_duration_seconds',
    help: 'app_badge/set latency',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly eventToAppliedSeconds = new Histogram({
    name: 'badge_event_to_applied_seconds',
    help: 'From the desired change being stored to Feishu accepting it',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly rateLimitPauses = this.counter('badge_rate_limit_pauses_total', 'Deployment-wide pauses after Feishu answered 429');
  readonly tokenRefreshes = this.counter('badge_token_refreshes_total', 'Tenant tokens refetched after Feishu rejected one');
  readonly leasesTakenOver = this.counter('badge_leases_taken_over_total', 'Claims of users whose previous lease had expired');
  readonly slotsMissed = this.counter('badge_push_slots_missed_total', 'Pushes re-slotted because they could not leave on time');
  readonly appTicketReceived = new Gauge({
    name: 'badge_feishu_app_ticket_received',
    help: 'Store apps: 1 once an app_ticket is held (without one no tenant token can be had), 0 while waiting',
    registers: [this.registry],
  });
  readonly callbacks = new Counter({
    name: 'badge_feishu_callbacks_total',
    help: 'Requests to the Feishu event callback by outcome (refusals by reason)',
    labelNames: ['outcome', 'reason'] as const,
    registers: [this.registry],
  });
  readonly usersParked = this.counter('badge_users_parked_total', 'Users parked after 213006/213007');

  constructor() {
    // The event-loop lag histogram samples with a timer: prom-client's default 10 ms woke an idle replica 100 times a
    // second (~1% of a core, bench/idle.bench.mjs); every 100 ms still catches any stall worth an alert.
    collectDefaultMetrics({ register: this.registry, prefix: 'badge_process_', eventLoopMonitoringPrecision: 100 });
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] });
  }
}
