/**
 * Integration test: kafkajs 2.2.4 against the local Apache Kafka broker (3.9.x, KRaft) started by
 * `npm run kafka:start` (scripts/kafka.sh). The broker must already be running; this file does not start it.
 *
 * Proves the client features the badge service relies on:
 *  - admin: create a multi-partition topic, read metadata, offsets and committed group offsets, delete;
 *  - producer: keyed messages with headers (string, binary and repeated keys), acks=all;
 *  - consumer group with `eachBatch` + `eachBatchAutoResolve: false` + `autoCommit: false`:
 *    every message arrives once with its headers, offsets are resolved per message and committed explicitly;
 *  - a second consumer in the same group, after the first disconnects, resumes from the committed offsets.
 */
import { randomBytes } from 'node:crypto';
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Producer,
} from 'kafkajs';
import { waitFor } from '../support/wait';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
const PARTITIONS = 3;
const KEYS = ['user-a', 'user-b', 'user-c', 'user-d', 'user-e', 'user-f', 'user-g'];
const FIRST_BATCH = 42; // 6 messages per key
const SECOND_BATCH = 14; // 2 more per key, so every partition used by the first batch gets newer messages too
const WAIT_MS = 60_000;

jest.setTimeout(180_000);

const runId = `${Date.now()}-${randomBytes(4).toString('hex')}`;
const topic = `it-broker-${runId}`;
const groupId = `it-broker-group-${runId}`;

interface Received {
  consumer: string;
  partition: number;
  offset: string;
  key: string;
  value: string;
  headers: IHeaders;
}

function messagesFor(phase: string, from: number, count: number) {
  return Array.from({ length: count }, (_, n) => {
    const i = from + n;
    const key = KEYS[i % KEYS.length];
    return {
      key,
      value: JSON.stringify({ phase, i, key }),
      headers: {
        'x-run': runId,
        'x-seq': String(i),
        'x-bin': Buffer.from([0x00, 0xff, i & 0xff]),
        'x-tag': ['first', `second-${i}`],
      } satisfies IHeaders,
    };
  });
}

describe('kafkajs 2.2.4 against the local Kafka broker', () => {
  const kafka = new Kafka({
    clientId: `it-broker-${runId}`,
    brokers: BROKERS,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    requestTimeout: 15_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
  let admin: Admin;
  let producer: Producer;
  const consumers: Consumer[] = [];
  let topicCreated = false;

  const received: Received[] = [];
  const commitErrors: unknown[] = [];

  function newConsumer(): Consumer {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 250,
    });
    consumers.push(consumer);
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) commitErrors.push(event.payload.error);
    });
    return consumer;
  }

  /** The service's pattern: handle the batch, resolve each offset, commit explicitly once the batch is done. */
  function eachBatchFor(name: string) {
    return async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }: EachBatchPayload) => {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        received.push({
          consumer: name,
          partition: batch.partition,
          offset: message.offset,
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
          headers: message.headers ?? {},
        });
        resolveOffset(message.offset);
        await heartbeat();
      }
      try {
        // With offsets given, kafkajs commits them now (regardless of autoCommit settings).
        await commitOffsetsIfNecessary(uncommittedOffsets());
      } catch (error) {
        commitErrors.push(error);
        throw error;
      }
    };
  }

  async function committedOffsets(): Promise<Map<number, string>> {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(entry.partitions.map((p) => [p.partition, p.offset]));
  }

  async function highWatermarks(): Promise<Map<number, string>> {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, p.high]));
  }

  async function waitForCommitted(expected: Map<number, string>, description: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const committed = await committedOffsets();
      // An empty partition (high watermark 0) has nothing to commit: kafkajs reports it as -1.
      const done = [...expected].every(
        ([partition, high]) => committed.get(partition) === (high === '0' ? '-1' : high),
      );
      if (done) return;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${description}: committed ${JSON.stringify([...committed])}, expected ${JSON.stringify([...expected])}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    await producer?.disconnect().catch(() => undefined);
    if (admin) {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      if (topicCreated) await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  });

  it('creates a topic with several partitions', async () => {
    topicCreated = true;
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 15_000,
    });
    expect(created).toBe(true);

    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics).toHaveLength(1);
    expect(topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    expect(await admin.listTopics()).toContain(topic);
  });

  it('delivers keyed messages with headers to an eachBatch group that commits explicitly', async () => {
    const sent = messagesFor('first', 0, FIRST_BATCH);
    const metadata = await producer.send({ topic, acks: -1, messages: sent });
    expect(metadata.every((m) => m.errorCode === 0)).toBe(true);

    const high = await highWatermarks();
    const total = [...high.values()].reduce((sum, h) => sum + Number(h), 0);
    expect(total).toBe(FIRST_BATCH);
    // Keys spread over more than one partition (deterministic for these keys with the default partitioner).
    expect([...high.values()].filter((h) => Number(h) > 0).length).toBeGreaterThan(1);

    const consumer = newConsumer();
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: eachBatchFor('first') });

      await waitFor(`${FIRST_BATCH} messages`, () => received.length >= FIRST_BATCH || commitErrors.length > 0, WAIT_MS, 25);
      expect(commitErrors).toEqual([]);

      // Every message exactly once, value and headers intact.
      expect(received).toHaveLength(FIRST_BATCH);
      const byValue = new Map(received.map((r) => [r.value, r]));
      expect(byValue.size).toBe(FIRST_BATCH);
      for (const [i, message] of sent.entries()) {
        const got = byValue.get(message.value);
        expect(got).toBeDefined();
        expect(got!.key).toBe(message.key);
        const headers = got!.headers;
        expect(headers['x-run']?.toString()).toBe(runId);
        expect(headers['x-seq']?.toString()).toBe(String(i));
        expect(Buffer.isBuffer(headers['x-bin'])).toBe(true);
        expect([...(headers['x-bin'] as Buffer)]).toEqual([0x00, 0xff, i & 0xff]);
        // A repeated header key comes back as an array, in order.
        expect(Array.isArray(headers['x-tag'])).toBe(true);
        expect((headers['x-tag'] as Buffer[]).map((b) => b.toString())).toEqual(['first', `second-${i}`]);
      }

      // Same key -> same partition, and per-key order is the send order.
      for (const key of KEYS) {
        const forKey = received.filter((r) => r.key === key);
        expect(new Set(forKey.map((r) => r.partition)).size).toBe(1);
        const seqs = forKey.map((r) => Number(r.headers['x-seq']!.toString()));
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }

      // The explicit commits reached the group coordinator: committed == high watermark on every partition.
      await waitForCommitted(high, 'the first consumer to commit every partition');
    } finally {
      await consumer.disconnect(); // leave the group so the next consumer gets every partition
    }
  });

  it('a second consumer in the same group resumes from the committed offsets', async () => {
    const committedBefore = await committedOffsets();
    const firstCount = received.length;

    const sent = messagesFor('second', FIRST_BATCH, SECOND_BATCH);
    await producer.send({ topic, acks: -1, messages: sent });
    const high = await highWatermarks();

    const consumer = newConsumer();
    try {
      await consumer.connect();
      // fromBeginning only applies without a committed offset: here it must be ignored.
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: eachBatchFor('second') });

      const fromSecond = () => received.filter((r) => r.consumer === 'second');
      await waitFor(`${SECOND_BATCH} messages on the second consumer`, () => fromSecond().length >= SECOND_BATCH || commitErrors.length > 0, WAIT_MS, 25);
      await waitForCommitted(high, 'the second consumer to commit every partition');
      expect(commitErrors).toEqual([]);

      // Exactly the new messages: nothing below the committed (next) offsets is delivered again. Each partition
      // that held old messages also got new ones (same keys), and a partition is read in order, so an old message
      // would have shown up before the new ones we waited for.
      const second = fromSecond();
      expect(second.map((r) => r.value).sort()).toEqual(sent.map((m) => m.value).sort());
      for (const r of second) {
        expect(JSON.parse(r.value).phase).toBe('second');
        expect(BigInt(r.offset)).toBeGreaterThanOrEqual(BigInt(committedBefore.get(r.partition) ?? '0'));
      }
      expect(received.filter((r) => r.consumer === 'first')).toHaveLength(firstCount);
    } finally {
      await consumer.disconnect();
    }
  });
});
