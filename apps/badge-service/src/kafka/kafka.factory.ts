import { Logger } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { Kafka, logLevel, LogEntry } from 'kafkajs';

const log = new Logger('Kafka');

/** kafkajs logs through the application logger; its INFO chatter is debug here. */
function logCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    const text = `${entry.logger ?? 'kafkajs'}: ${message}`;
    if (level === logLevel.ERROR) log.error({ ...rest }, text);
    else if (level === logLevel.WARN) log.warn({ ...rest }, text);
    else log.debug?.({ ...rest }, text);
  };
}

export function createKafka(config: AppConfig, suffix: string): Kafka {
  return new Kafka({
    clientId: `${config.kafka.clientId}-${suffix}`,
    brokers: config.kafka.brokers,
    logLevel: logLevel.INFO,
    logCreator,
    connectionTimeout: 5000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  });
}

/** Creates the input topic and its dead-letter topic when they are missing. */
export async function ensureTopics(kafka: Kafka, config: AppConfig): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: config.kafka.topic, numPartitions: config.kafka.partitions },
      { topic: config.kafka.dlqTopic, numPartitions: 1 },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length > 0) {
      try {
        await admin.createTopics({ topics: wanted, waitForLeaders: true });
      } catch (e) {
        // Another replica created it first.
        if ((e as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw e;
      }
    }
  } finally {
    await admin.disconnect();
  }
}
