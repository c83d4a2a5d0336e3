/**
 * Integration test: kafkajs 2.2.4 (its last release, written for Kafka 2.x) against the broker `npm run kafka:start`
 * runs, Apache Kafka 4.x by default (scripts/test.sh runs this file again on 3.9). Kafka 4.0 removed the oldest
 * protocol versions (KIP-896); kafkajs picks min(its best, the broker's) per API, and this file proves that what the
 * service uses still works there: the broker's line as it reports it (ApiVersions), produce, an eachBatch group
 * committing explicitly, a rebalance between two members and back, resuming from commits after a reconnect, and the
 * admin calls (create/delete topics, topic and group offsets, describe groups, lag).
 * test/kafka/broker.test.ts covers headers, keys and per-key order on the same broker.
 */
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type EachBatchPayload } from 'kafkajs';
import { BROKERS, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { ROOT } from '../support/service';

jest.setTimeout(120_000);

/** The broker's supported version range per API key, from an ApiVersions v0 request on a plain socket. */
async function apiVersions(hostPort: string): Promise<Map<number, { min: number; max: number }>> {
  const i = hostPort.lastIndexOf(':');
  const socket = net.connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
  const clientId = Buffer.from('badge-tests');
  const body = Buffer.alloc(10 + clientId.length);
  body.writeInt16BE(18, 0); // ApiVersions
  body.writeInt16BE(0, 2); // version 0: the one every broker answers (KIP-896 kept it)
  body.writeInt32BE(1, 4); // correlation id
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  const response = await new Promise<Buffer>((resolve, reject) => {
    let got = Buffer.alloc(0);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`ApiVersions: no answer from ${hostPort}`)));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) resolve(got.subarray(4, 4 + got.readInt32BE(0)));
    });
    socket.write(Buffer.concat([size, body]));
  }).finally(() => socket.destroy());
  expect(response.readInt32BE(0)).toBe(1); // correlation id
  expect(response.readInt16BE(4)).toBe(0); // error code
  const versions = new Map<number, { min: number; max: number }>();
  for (let n = response.readInt32BE(6), at = 10; n > 0; n--, at += 6) {
    versions.set(response.readInt16BE(at), { min: response.readInt16BE(at + 2), max: response.readInt16BE(at + 4) });
  }
  return versions;
}

/** The version scripts/kafka.sh says it made ready at this address, if it did (".kafka/broker-version"). */
function startedVersion(): string | undefined {
  if (process.env.KAFKA_EXPECT_VERSION) return process.env.KAFKA_EXPECT_VERSION;
  const file = path.join(ROOT, '.kafka/broker-version');
  if (!existsSync(file)) return undefined;
  const [version, address] = readFileSync(file, 'utf8').trim().split(' ');
  return address === BROKERS[0] ? version : undefined;
}

describe('kafkajs 2.2.4 against the Kafka 4.x broker (and 3.9)', () => {
  const kafka = new Kafka({
    clientId: uniqueName('it-compat'),
    brokers: BROKERS,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3_000 },
  });
  const admin = kafka.admin();
  const topic = uniqueName('it-compat');
  const groupId = uniqueName('it-compat-group');
  const consumers: Consumer[] = [];
  const received = new Map<string, string>(); // value -> consumer name
  const duplicates: string[] = [];
  const crashes: unknown[] = [];
  const assigned = new Map<string, number[]>(); // consumer name -> partitions of its last join

  function member(name: string): Consumer {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 250 });
    consumers.push(consumer);
    consumer.on(consumer.events.CRASH, (e) => crashes.push(e.payload.error));
    consumer.on(consumer.events.GROUP_JOIN, (e) => assigned.set(name, [...(e.payload.memberAssignment[topic] ?? [])].sort()));
    return consumer;
  }

  async function run(consumer: Consumer, name: string): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets }: EachBatchPayload) => {
        for (const m of batch.messages) {
          const value = m.value!.toString();
          if (received.has(value)) duplicates.push(value);
          received.set(value, name);
          resolveOffset(m.offset);
        }
        await commitOffsetsIfNecessary(uncommittedOffsets());
        await heartbeat();
      },
    });
  }

  async function send(phase: string, count: number): Promise<string[]> {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const values = Array.from({ length: count }, (_, i) => `${phase}-${i}`);
      const sent = await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ key: `user-${i}`, value })) });
      expect(sent.every((r) => r.errorCode === 0)).toBe(true);
      return values;
    } finally {
      await producer.disconnect();
    }
  }

  async function lag(): Promise<number> {
    const [ends, [committed]] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const at = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
    return ends.reduce((n, p) => n + Number(p.high) - Math.max(at.get(p.partition) ?? -1, Number(p.low)), 0);
  }

  beforeAll(() => admin.connect());
  afterAll(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('runs against the broker line kafka.sh started (Kafka 4 dropped Fetch v0-v3, KIP-896; 3.9 still has v0)', async () => {
    const versions = await apiVersions(BROKERS[0]);
    const fetch = versions.get(1)!;
    const line = fetch.min >= 4 ? 4 : 3;
    const expected = startedVersion();
    if (expected) expect(line).toBe(Number(expected.split('.')[0]));
    // kafkajs 2.2.4 asks for Produce up to v7, Fetch v11, OffsetCommit v5, OffsetFetch v4, JoinGroup v5: within range.
    for (const [key, best] of [[0, 7], [1, 11], [8, 5], [9, 4], [11, 5], [14, 3], [19, 3], [20, 3]]) {
      const v = versions.get(key)!;
      expect({ key, ok: v.min <= best }).toEqual({ key, ok: true });
    }
    process.stdout.write(`kafka4-compat: broker ${BROKERS[0]} is Kafka ${expected ?? `${line}.x`} (Fetch v${fetch.min}-v${fetch.max})\n`);
  });

  it('creates a topic, and admin reports its offsets and an empty group before anyone consumed', async () => {
    await expect(admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true })).resolves.toBe(true);
    expect(await admin.listTopics()).toContain(topic);
    const values = await send('before', 40);
    const ends = await admin.fetchTopicOffsets(topic);
    expect(ends.reduce((n, p) => n + Number(p.high), 0)).toBe(values.length);
    expect(await lag()).toBe(40);
  });

  it('one eachBatch member takes every partition, commits, and lag drops to zero', async () => {
    await run(member('a'), 'a');
    await waitFor('member a to read 40 messages', () => received.size >= 40 || crashes.length > 0);
    expect(crashes).toEqual([]);
    expect(assigned.get('a')).toEqual([0, 1, 2, 3]);
    await waitFor('the group to commit everything', async () => (await lag()) === 0);
  });

  it('a second member triggers a rebalance: the partitions are split, describeGroups sees both, nothing is read twice', async () => {
    await run(member('b'), 'b');
    await waitFor('the split assignment', () => (assigned.get('a')?.length ?? 0) === 2 && (assigned.get('b')?.length ?? 0) === 2);
    expect([...assigned.get('a')!, ...assigned.get('b')!].sort()).toEqual([0, 1, 2, 3]);

    const { groups } = await admin.describeGroups([groupId]);
    expect(groups[0]).toMatchObject({ groupId, state: 'Stable', protocolType: 'consumer' });
    expect(groups[0].members).toHaveLength(2);

    const values = await send('split', 40);
    await waitFor('both members to read the new messages', () => values.every((v) => received.has(v)) || crashes.length > 0);
    expect(new Set(values.map((v) => received.get(v)))).toEqual(new Set(['a', 'b']));
    await waitFor('the group to commit everything', async () => (await lag()) === 0);
    expect(duplicates).toEqual([]);
    expect(crashes).toEqual([]);
  });

  it('after every member leaves, a new member resumes from the committed offsets', async () => {
    await Promise.all(consumers.splice(0).map((c) => c.disconnect()));
    await waitFor('the group to be empty', async () => (await admin.describeGroups([groupId])).groups[0].state === 'Empty');
    const values = await send('after', 20);
    expect(await lag()).toBe(20);

    await run(member('c'), 'c');
    await waitFor('member c to read the 20 new messages', () => values.every((v) => received.has(v)) || crashes.length > 0);
    await waitFor('the group to commit everything', async () => (await lag()) === 0);
    expect([...received.values()].filter((name) => name === 'c')).toHaveLength(20);
    expect(duplicates).toEqual([]);
    expect(crashes).toEqual([]);
  });

  it('deletes the group and the topic', async () => {
    await Promise.all(consumers.splice(0).map((c) => c.disconnect()));
    await admin.deleteGroups([groupId]);
    await admin.deleteTopics({ topics: [topic] });
    await waitFor('the topic to be gone', async () => !(await admin.listTopics()).includes(topic));
  });
});
