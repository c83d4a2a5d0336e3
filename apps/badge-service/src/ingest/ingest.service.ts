import { Injectable, Logger } from '@nestjs/common';
import { BadgeEvent, decodeEvent, describeRejection, newestPerSource } from '@badges/contracts';
import { IngestOutcome, IngestRepository, RejectedEvent } from '@badges/store';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { DeadLetter, InboundMessage } from './ingest.types';

export interface ChunkResult extends IngestOutcome {
  deadLettered: number;
}

/** Decides what one chunk of messages does to the stored state. The consumer owns offsets. */
@Injectable()
export class IngestService {
  private readonly log = new Logger(IngestService.name);

  constructor(
    private readonly repository: IngestRepository,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {}

  /**
   * Dead letters are published before the database commit and offsets are committed after it, so a crash
   * anywhere replays the chunk: the database side is idempotent (stale), the DLQ side at-least-once.
   */
  async apply(messages: readonly InboundMessage[]): Promise<ChunkResult> {
    const events: BadgeEvent[] = [];
    const letters: DeadLetter[] = [];
    const rejected: RejectedEvent[] = [];
    for (const m of messages) {
      const r = decodeEvent(m.value);
      if (r.ok) events.push(r.event);
      else {
        const reason = describeRejection(r.rejection);
        letters.push({ message: m, field: r.rejection.field, rule: r.rejection.rule, reason });
        if (r.rejectedFor) rejected.push({ ...r.rejectedFor, reason: `rejected to the dead-letter topic: ${reason}` });
      }
    }
    this.metrics.eventsConsumed.inc(messages.length);
    if (letters.length > 0) {
      await this.deadLetters.publish(letters, new Date(this.clock.now()));
      for (const l of letters) {
        this.metrics.eventsDeadLettered.inc({ field: l.field });
        this.log.warn(
          { topic: l.message.topic, partition: l.message.partition, offset: l.message.offset, reason: l.reason },
          'message dead-lettered',
        );
      }
    }
    const { newest, superseded } = newestPerSource(events);
    const started = performance.now();
    const outcome = await this.repository.applyBatch(newest, superseded, rejected);
    this.metrics.ingestBatchSeconds.observe((performance.now() - started) / 1000);
    this.metrics.ingestBatchSize.observe(messages.length);
    this.metrics.eventsApplied.inc(outcome.accepted);
    this.metrics.eventsStale.inc(outcome.stale);
    return { ...outcome, deadLettered: letters.length };
  }
}
