import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { Producer } from 'kafkajs';
import { DeadLetter, DLQ_HEADERS } from './ingest.types';

/** Sends refused messages to `<topic>.dlq` with the original key, value and headers, plus why. */
@Injectable()
export class DeadLetterPublisher {
  private producer?: Producer;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  attach(producer: Producer): void {
    this.producer = producer;
  }

  async publish(letters: readonly DeadLetter[], at: Date): Promise<void> {
    if (letters.length === 0) return;
    if (!this.producer) throw new Error('dead-letter producer not connected');
    await this.producer.send({
      topic: this.config.kafka.dlqTopic,
      acks: -1,
      messages: letters.map(({ message, field, rule, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...message.headers,
          [DLQ_HEADERS.reason]: reason,
          [DLQ_HEADERS.field]: field,
          [DLQ_HEADERS.rule]: rule,
          [DLQ_HEADERS.sourceTopic]: message.topic,
          [DLQ_HEADERS.sourcePartition]: String(message.partition),
          [DLQ_HEADERS.sourceOffset]: message.offset,
          [DLQ_HEADERS.at]: at.toISOString(),
        },
      })),
    });
  }
}
