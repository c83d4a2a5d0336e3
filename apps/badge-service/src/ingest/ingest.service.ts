import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { BadgeEvent, DecodeOptions, decodeEvent, describeRejection, newestPerSource, sourceKey } from '@badges/contracts';
import { IngestOutcome, IngestRepository, RefusedSource, RejectedEvent, sourceCapRule } from '@badges/store';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { DeadLetter, InboundMessage } from './ingest.types';

export interface ChunkResult extends Omit<IngestOutcome, 'refused'> {
  deadLettered: number;
}

/** Decides what one chunk of messages does to the stored state. The consumer owns offsets. */
@Injectable()
export class IngestService {
  private readonly log = new Logger(IngestService.name);
  private readonly decodeOptions: DecodeOptions;
  private readonly sourceCapRule: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly repository: IngestRepository,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.decodeOptions = { appType: config.get('feishu', { infer: true }).appType };
    this.sourceCapRule = sourceCapRule(config.get('ingest', { infer: true }).maxSourcesPerUser);
  }

  /**
   * Dead letters are published before the database commit and offsets are committed after it, so a crash
   * anywhere replays the chunk: the database side is idempotent (stale), the DLQ side at-least-once. New sources
   * the database refuses (their user is at the cap) are known only at its commit, so they are published after it,
   * still before the offsets: a replay refuses them again (or accepts them, should the user have room by then).
   */
  async apply(messages: readonly InboundMessage[]): Promise<ChunkResult> {
    const decoded: Decoded[] = [];
    const letters: DeadLetter[] = [];
    const rejected: RejectedEvent[] = [];
    for (const m of messages) {
      const r = decodeEvent(m.value, this.decodeOptions);
      if (r.ok) decoded.push({ event: isBulk(m.headers) ? { ...r.event, bulk: true } : r.event, message: m });
      else {
        const reason = describeRejection(r.rejection);
        letters.push({ message: m, field: r.rejection.field, rule: r.rejection.rule, reason });
        if (r.rejectedFor) rejected.push({ ...r.rejectedFor, reason: `rejected to the dead-letter topic: ${reason}` });
      }
    }
    this.metrics.eventsConsumed.inc(messages.length);
    await this.deadLetter(letters);
    const started = performance.now();
    const outcome = await this.store(decoded, rejected);
    this.metrics.ingestBatchSeconds.observe((performance.now() - started) / 1000);
    this.metrics.ingestBatchSize.observe(messages.length);
    this.metrics.eventsApplied.inc(outcome.accepted);
    this.metrics.eventsStale.inc(outcome.stale);
    return { ...outcome, deadLettered: outcome.deadLettered + letters.length };
  }

  /**
   * Applies the events in one transaction. Should the database refuse the data itself (an event the contract
   * accepts but Postgres cannot store), the batch is split in halves until the one refused event is found and
   * dead-lettered, so a poison message never blocks its partition; any other error is left to the caller's retry.
   */
  private async store(items: readonly Decoded[], rejected: readonly RejectedEvent[]): Promise<ChunkResult> {
    const { newest, superseded } = newestPerSource(items.map((i) => i.event));
    let outcome: IngestOutcome;
    try {
      outcome = await this.repository.applyBatch(newest, superseded, rejected);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !REFUSED_DATA.test(code)) throw e;
      // Only audit rows were written, and the database refuses them: retrying would refuse them forever.
      if (items.length === 0) return this.dropRejected(rejected, e);
      if (items.length === 1 && rejected.length === 0) {
        const rule = `refused by the database (SQLSTATE ${code})`;
        await this.deadLetter([{ message: items[0].message, field: '$', rule, reason: `$: ${rule}` }]);
        return { ...ZERO, deadLettered: 1 };
      }
      const mid = Math.ceil(items.length / 2);
      // The refused-message audit rows go alone first: they may be what the database refused.
      const head = rejected.length > 0 ? await this.storeRejected(rejected) : ZERO;
      const a = await this.store(items.slice(0, mid), []);
      const b = await this.store(items.slice(mid), []);
      return {
        accepted: head.accepted + a.accepted + b.accepted,
        stale: head.stale + a.stale + b.stale,
        usersChanged: head.usersChanged + a.usersChanged + b.usersChanged,
        deadLettered: a.deadLettered + b.deadLettered,
      };
    }
    const letters = this.refusedSources(items, outcome.refused);
    await this.deadLetter(letters);
    return { accepted: outcome.accepted, stale: outcome.stale, usersChanged: outcome.usersChanged, deadLettered: letters.length };
  }

  /** The message of each refused source's newest event (its older events in the chunk are recorded as superseded). */
  private refusedSources(items: readonly Decoded[], refused: readonly RefusedSource[]): DeadLetter[] {
    if (refused.length === 0) return [];
    const keys = new Set(refused.map((r) => sourceKey(r)));
    const { newest } = newestPerSource(items.map((i) => i.event));
    const messageOf = new Map(items.map((i) => [i.event, i.message]));
    const rule = this.sourceCapRule;
    const reason = describeRejection({ field: 'source', rule });
    return newest.filter((e) => keys.has(sourceKey(e))).map((e) => ({ message: messageOf.get(e)!, field: 'source', rule, reason }));
  }

  private async storeRejected(rejected: readonly RejectedEvent[]): Promise<ChunkResult> {
    try {
      await this.repository.applyBatch([], [], rejected);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== 'string' || !REFUSED_DATA.test(code)) throw e;
      return this.dropRejected(rejected, e);
    }
    return ZERO;
  }

  /** The messages themselves are in the DLQ already; only their audit rows are lost, and said so. */
  private dropRejected(rejected: readonly RejectedEvent[], e: unknown): ChunkResult {
    this.log.warn({ err: e, dropped: rejected.length }, 'database refused the audit rows of dead-lettered events; dropped them');
    return ZERO;
  }

  private async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.deadLetters.publish(letters, new Date(this.clock.now()));
    for (const l of letters) {
      this.metrics.eventsDeadLettered.inc({ field: l.field });
      this.log.warn(
        { topic: l.message.topic, partition: l.message.partition, offset: l.message.offset, reason: l.reason },
        'message dead-lettered',
      );
    }
  }
}

interface Decoded {
  event: BadgeEvent;
  message: InboundMessage;
}

/** SQLSTATE classes for data Postgres refuses to store: 22 data exception, 23 integrity, 54 program limit. */
const REFUSED_DATA = /^(22|23|54)/;
const ZERO: ChunkResult = { accepted: 0, stale: 0, usersChanged: 0, deadLettered: 0 };

export const PRIORITY_HEADER = 'badge-priority';

/** The Kafka header `badge-priority: bulk` marks a message as bulk work (priority lanes); anything else is live. */
export function isBulk(headers: InboundMessage['headers']): boolean {
  const h = headers[PRIORITY_HEADER];
  const first = Array.isArray(h) ? h[0] : h;
  return first !== undefined && first.toString().trim().toLowerCase() === 'bulk';
}
