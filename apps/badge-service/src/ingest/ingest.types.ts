/** The part of a Kafka message ingest needs; keeps kafkajs out of the logic. */
export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface DeadLetter {
  message: InboundMessage;
  field: string;
  rule: string;
  reason: string;
}

export const DLQ_HEADERS = {
  reason: 'x-dlq-reason',
  field: 'x-dlq-field',
  rule: 'x-dlq-rule',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  at: 'x-dlq-at',
} as const;
