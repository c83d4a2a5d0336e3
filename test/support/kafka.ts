import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { waitFor } from './wait';

// Kept for imports written before test/support/wait.ts.
export { waitFor };

export const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const kafka = new Kafka({ clientId: 'badge-tests', brokers: BROKERS, logLevel: logLevel.NOTHING });

export const uniqueName = (prefix: string) => `${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;

export async function createTopic(topic: string, numPartitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }, { topic: `${topic}.dlq`, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(...topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

export interface OutMessage {
  key: string | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export async function produce(topic: string, messages: OutMessage[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5000) await producer.send({ topic, messages: messages.slice(i, i + 5000) });
  } finally {
    await producer.disconnect();
  }
}

/** Messages behind the group's committed offsets (everything, when nothing is committed). */
export async function groupLag(topic: string, groupId: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
    return ends.reduce((n, p) => {
      const at = done.get(p.partition) ?? -1;
      return n + (at < 0 ? Number(p.high) - Number(p.low) : Number(p.high) - at);
    }, 0);
  } finally {
    await admin.disconnect();
  }
}

export interface ReadMessage {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads a whole topic from the beginning until `count` messages arrived (or the deadline). */
export async function readTopic(topic: string, count: number, timeoutMs = 30_000): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        seen.push({ key: message.key?.toString() ?? null, value: message.value, headers });
      },
    });
    await waitFor(`${count} messages on ${topic}`, () => seen.length >= count, timeoutMs);
    return seen;
  } finally {
    await consumer.disconnect();
  }
}
