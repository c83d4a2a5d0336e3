import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { storableText } from '@badges/contracts';
import { Producer } from 'kafkajs';
import { KAFKA_PRODUCER } from '../kafka/kafka.tokens';
import { DeadLetter, DLQ_HEADERS } from './ingest.types';

/**
 * One send is one record batch per partition, and the broker refuses a batch over its message.max.bytes (1 MiB by
 * default): a chunk holding a few messages of up to 64 KiB and more must go out in several sends.
 */
const MAX_SEND_BYTES = 512 * 1024;

/**
 * Sends refused messages to `<topic>.dlq` with the original key, value and headers, plus why. The producer is
 * connected by the ingest transport before it hands over any message.
 */
@Injectable()
export class DeadLetterPublisher {
  private readonly dlqTopic: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
  ) {
    this.dlqTopic = config.get('kafka', { infer: true }).dlqTopic;
  }

  async publish(letters: readonly DeadLetter[], at: Date): Promise<void> {
    if (letters.length === 0) return;
    const messages = letters.map(({ message, field, rule, reason }) => ({
      key: message.key,
      value: message.value,
      headers: {
        ...message.headers,
        [DLQ_HEADERS.reason]: storableText(reason),
        [DLQ_HEADERS.field]: storableText(field),
        [DLQ_HEADERS.rule]: storableText(rule),
        [DLQ_HEADERS.sourceTopic]: message.topic,
        [DLQ_HEADERS.sourcePartition]: String(message.partition),
        [DLQ_HEADERS.sourceOffset]: message.offset,
        [DLQ_HEADERS.at]: at.toISOString(),
      },
    }));
    for (const batch of bySize(messages, MAX_SEND_BYTES)) {
      await this.producer.send({ topic: this.dlqTopic, acks: -1, messages: batch });
    }
  }
}

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;
interface Letter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, HeaderValue>;
}

const byteLength = (v: HeaderValue): number =>
  v === undefined ? 0 : Array.isArray(v) ? v.reduce((n, x) => n + Buffer.byteLength(x), 0) : Buffer.byteLength(v);

/** Consecutive groups of at most about `max` bytes (a larger message goes alone). */
function bySize<M extends Letter>(messages: M[], max: number): M[][] {
  const groups: M[][] = [];
  let group: M[] = [];
  let bytes = 0;
  for (const m of messages) {
    let n = 64 + (m.key?.length ?? 0) + (m.value?.length ?? 0);
    for (const [k, v] of Object.entries(m.headers)) n += k.length + byteLength(v);
    if (group.length > 0 && bytes + n > max) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(m);
    bytes += n;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
