import { INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig, configServiceOf } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { Clock } from '../common/clock';
import { ProcessExit } from '../common/process-exit';
import { ReadinessRegistry } from '../health/readiness.registry';
import { KafkaFatalSignal } from '../kafka/kafka-fatal.signal';
import { KAFKA_CLIENT, KAFKA_PRODUCER } from '../kafka/kafka.tokens';
import { Metrics } from '../metrics/metrics.service';
import { IngestController } from './ingest.controller';
import { IngestService } from './ingest.service';
import { InboundMessage } from './ingest.types';
import { setFlagsFromString } from 'node:v8';
import { boundHeapGrowth, FETCH_BYTES_PER_PARTITION, HEAP_GROWING_PERCENT, KafkaBatchTransport } from './kafka-batch.transport';

// The transport sets a V8 flag when it listens; here it is only recorded (the test process keeps its own GC).
jest.mock('node:v8', () => ({ ...jest.requireActual('node:v8'), setFlagsFromString: jest.fn() }));

const TOPIC = 'badges.in';
const config = {
  roles: new Set(['ingest']),
  kafka: { topic: TOPIC, dlqTopic: `${TOPIC}.dlq`, groupId: 'badge-reconciler', partitions: 3, sessionTimeoutMs: 6000, createTopics: false },
  ingest: { maxBatch: 2 },
} as unknown as AppConfig;

/** A strict fake: anything the transport calls that is not here fails the test. */
class FakeConsumer {
  readonly events = { GROUP_JOIN: 'group_join', REBALANCING: 'rebalancing', STOP: 'stop', CRASH: 'crash' };
  readonly listeners = new Map<string, ((e: unknown) => void)[]>();
  readonly commits: string[] = [];
  eachBatch?: (payload: unknown) => Promise<void>;
  on(event: string, fn: (e: unknown) => void) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
  }
  emit(event: string, payload: unknown) {
    for (const fn of this.listeners.get(event) ?? []) fn({ payload });
  }
  async connect() {}
  async subscribe({ topics }: { topics: string[] }) {
    expect(topics).toEqual([TOPIC]);
  }
  async run({ eachBatch }: { eachBatch: (payload: unknown) => Promise<void> }) {
    this.eachBatch = eachBatch;
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]) {
    this.commits.push(...offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`));
  }
  async disconnect() {}
}

/** Sleeps end at once and are recorded: a retry loop shows its backoff without the test waiting for it. */
class InstantClock extends Clock {
  readonly sleeps: number[] = [];
  override random() {
    return 0.5;
  }
  override async sleep(ms: number) {
    this.sleeps.push(ms);
  }
}

const batch = (partition: number, offsets: number[]) => ({
  topic: TOPIC,
  partition,
  messages: offsets.map((o) => ({ offset: String(o), key: null, value: Buffer.from(`m${o}`), headers: {} })),
});

describe('KafkaBatchTransport', () => {
  let app: INestMicroservice;
  let consumer: FakeConsumer;
  let consumerOptions: { groupId: string; maxBytes?: number; maxBytesPerPartition?: number }[];
  let clock: InstantClock;
  let readiness: ReadinessRegistry;
  let apply: jest.Mock<Promise<unknown>, [InboundMessage[]]>;
  let metrics: Metrics;

  beforeEach(async () => {
    consumer = new FakeConsumer();
    consumerOptions = [];
    clock = new InstantClock();
    apply = jest.fn(async (_messages: InboundMessage[]) => ({}));
    const kafka = {
      consumer: (options: { groupId: string }) => (consumerOptions.push(options), consumer),
      admin: () => ({ connect: async () => {}, listTopics: async () => [TOPIC, `${TOPIC}.dlq`], disconnect: async () => {} }),
    };
    const moduleRef = await Test.createTestingModule({
      controllers: [IngestController],
      providers: [
        KafkaBatchTransport,
        KafkaFatalSignal,
        ReadinessRegistry,
        Metrics,
        { provide: IngestService, useValue: { apply } },
        { provide: ConfigService, useValue: configServiceOf(config) },
        { provide: KAFKA_CLIENT, useValue: kafka },
        { provide: KAFKA_PRODUCER, useValue: { connect: async () => {}, disconnect: async () => {} } },
        { provide: Clock, useValue: clock },
        { provide: ProcessExit, useValue: { fatal: (m: string) => { throw new Error(`unexpected exit: ${m}`); } } },
      ],
    }).compile();
    readiness = moduleRef.get(ReadinessRegistry);
    metrics = moduleRef.get(Metrics);
    app = moduleRef.createNestMicroservice({ strategy: moduleRef.get(KafkaBatchTransport), logger: false });
    await app.listen();
  });
  afterEach(() => app.close());

  const ingestCheck = async () => new Map(readiness.entries()).get('ingest')!();
  const phase = async () => ((await ingestCheck()).detail as { phase: string }).phase;
  const joined = async () => {
    await waitUntil(() => consumer.eachBatch !== undefined);
    consumer.emit(consumer.events.GROUP_JOIN, { memberAssignment: { [TOPIC]: [0, 1] } });
  };
  const payload = (b: ReturnType<typeof batch>, state = { running: true, stale: false }) => ({
    batch: b,
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => state.running,
    isStale: () => state.stale,
  });

  it('listens without waiting for the group join, under the configured group id, and is ready once joined', async () => {
    await waitUntil(() => consumer.eachBatch !== undefined);
    expect(await phase()).toBe('joining');
    expect(consumerOptions.map((o) => o.groupId)).toEqual(['badge-reconciler']);
    await joined();
    expect(await ingestCheck()).toMatchObject({ ok: true, detail: { phase: 'joined', assignedPartitions: [0, 1] } });
  });

  it('fetches about one chunk per partition, as many partitions at a time as it applies at once, and bounds heap growth', async () => {
    await waitUntil(() => consumer.eachBatch !== undefined);
    // kafkajs holds a whole fetch until all its partitions are handled: its size is memory held per round.
    expect(consumerOptions[0]).toMatchObject({ maxBytesPerPartition: FETCH_BYTES_PER_PARTITION, maxBytes: 3 * FETCH_BYTES_PER_PARTITION });
    expect(FETCH_BYTES_PER_PARTITION).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(setFlagsFromString).toHaveBeenCalledWith(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  });

  it('hands the handler chunks of INGEST_MAX_BATCH messages and commits each only after the handler resolved', async () => {
    await joined();
    const committedAtApply: number[] = [];
    apply.mockImplementation(async () => committedAtApply.push(consumer.commits.length));
    await consumer.eachBatch!(payload(batch(1, [10, 11, 12])));
    expect(apply.mock.calls.map(([m]) => m.map((x) => `${x.partition}@${x.offset}`))).toEqual([['1@10', '1@11'], ['1@12']]);
    expect(committedAtApply).toEqual([0, 1]);
    expect(consumer.commits).toEqual([`${TOPIC}/1@12`, `${TOPIC}/1@13`]);
  });

  it('retries a failing chunk with growing backoff and commits nothing until it succeeds', async () => {
    await joined();
    const failure = Object.assign(new Error('connection terminated'), { code: '57P01' });
    let calls = 0;
    apply.mockImplementation(async () => {
      if (++calls <= 4) throw failure;
      return {};
    });
    const seen: unknown[] = [];
    const log = jest.spyOn((app as any).serverInstance.log, 'error').mockImplementation((o: any) => void seen.push(o.err));
    await consumer.eachBatch!(payload(batch(0, [5])));
    expect(calls).toBe(5);
    expect(seen).toEqual([failure, failure, failure, failure]); // the error itself, not Nest's generic RPC error
    expect(clock.sleeps).toEqual([100, 200, 400, 800]);
    expect(consumer.commits).toEqual([`${TOPIC}/0@6`]);
    expect((await metrics.registry.getSingleMetric('badge_ingest_retries_total')!.get()).values[0].value).toBe(4);
    log.mockRestore();
  });

  it('leaves a failing chunk uncommitted to the next owner once its partition is revoked', async () => {
    await joined();
    const state = { running: true, stale: false };
    apply.mockImplementation(async () => {
      state.stale = true;
      throw new Error('database unavailable');
    });
    jest.spyOn((app as any).serverInstance.log, 'error').mockImplementation(() => undefined);
    await consumer.eachBatch!(payload(batch(2, [7, 8, 9]), state));
    expect(apply).toHaveBeenCalledTimes(1);
    expect(consumer.commits).toEqual([]);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error('condition never held');
}

describe('boundHeapGrowth', () => {
  beforeEach(() => jest.mocked(setFlagsFromString).mockClear());

  it('sets the heap growing factor unless node was started with one', () => {
    expect(boundHeapGrowth([])).toBe(true);
    expect(setFlagsFromString).toHaveBeenCalledWith(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    jest.mocked(setFlagsFromString).mockClear();
    expect(boundHeapGrowth(['--heap-growing-percent=80'])).toBe(false);
    expect(boundHeapGrowth(['--heap_growing_percent=80'])).toBe(false);
    expect(setFlagsFromString).not.toHaveBeenCalled();
  });
});
