import { setFlagsFromString } from 'node:v8';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CustomTransportStrategy, ReadPacket, Server } from '@nestjs/microservices';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { finalize, isObservable, lastValueFrom } from 'rxjs';
import { Clock } from '../common/clock';
import { backoffMs } from '../common/retry';
import { ProcessExit } from '../common/process-exit';
import { ReadinessRegistry } from '../health/readiness.registry';
import { fatalKafkaMessage } from '../kafka/kafka-failure';
import { KafkaFatalSignal } from '../kafka/kafka-fatal.signal';
import { ensureTopics } from '../kafka/kafka.factory';
import { KAFKA_CLIENT, KAFKA_PRODUCER } from '../kafka/kafka.tokens';
import { Metrics } from '../metrics/metrics.service';
import { KafkaChunkContext } from './kafka-chunk.context';
import { InboundMessage } from './ingest.types';

/**
 * The pattern ingest's handler listens to. Decorators are static and KAFKA_TOPIC is configuration, so the handler
 * names this logical pattern and the transport binds it to the configured topic.
 */
export const INGEST_CHUNK = 'ingest.chunk';

const RESTART_DELAY_MS = 2_000;
const HANDLER_RETRY_BASE_MS = 200;
const HANDLER_RETRY_CAP_MS = 5_000;
const START_RETRY_BASE_MS = 500;
const START_RETRY_CAP_MS = 15_000;
/** How long shutdown waits for a member that has not joined yet (a pending join, a connect being retried). */
const SHUTDOWN_ABANDON_MS = 3_000;
/** Heartbeat answers that mean the group is rebalancing and waits for this member to rejoin. */
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
const mustRejoin = (e: unknown) => REJOIN.has((e as { type?: string } | null)?.type ?? '');

/** Partitions whose chunks are applied at the same time (kafkajs partitionsConsumedConcurrently). */
const CONSUMED_CONCURRENTLY = 3;
/**
 * Fetch size per partition. kafkajs's consumer holds a whole fetch (the response and every decoded message of it)
 * until all its partitions are handled; at the old 4 MiB a partition (maxBytes 10 MiB) that was ~50,000 messages.
 */
export const FETCH_BYTES_PER_PARTITION = 2 * 1024 * 1024;

/**
 * Old-generation growth after a full GC, in percent of what survived it. V8's own factor on a large machine is up
 * to 4x: with ~60 MB live while ingesting (the application and one fetch in hand), the heap was let grow to
 * ~250 MB of dead chunks before collecting, and the 1M-event bench peaked at ~600 MB resident. Ingest turns over
 * ~100 MB/s of short-lived chunk data, so it collects sooner instead. A `--heap-growing-percent` given to node wins.
 */
export const HEAP_GROWING_PERCENT = 30;

/** Sets V8's heap growing factor for this process unless node was started with one. */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}

/**
 * Where the member stands in its group, also the transport's `status`. A restarted member's join waits for the dead
 * member's session to expire (KAFKA_SESSION_TIMEOUT_MS), so "joining" may last that long; only "joined" is ready.
 */
export type IngestPhase = 'connecting' | 'joining' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

/**
 * A Nest transport over kafkajs `eachBatch`: handlers get chunks of up to INGEST_MAX_BATCH messages of one
 * partition. Nest's own Kafka transport hands over one message at a time, retries a failing one forever and appends
 * `-server` to the group id; this one keeps KAFKA_GROUP_ID as configured. Offsets are committed only after the
 * handler has resolved (its database transaction committed); a failing chunk is retried with backoff, uncommitted,
 * and left to the next owner when the partition is revoked. Dead letters go out through the handler, on the producer
 * this transport connects before it consumes.
 */
@Injectable()
export class KafkaBatchTransport extends Server<Record<string, Function>, IngestPhase> implements CustomTransportStrategy {
  // Handler failures come back from Nest's exception layer as an erroring stream; handleEvent awaits it.
  override readonly propagatesEventHandlerErrors = true;
  private readonly log = new Logger('IngestTransport');
  /** Topic to pattern: the configured input topic to INGEST_CHUNK. */
  private readonly patterns: ReadonlyMap<string, string>;
  private readonly consumerListeners: [string, (event: unknown) => void][] = [];
  private consumer?: Consumer;
  private producerConnected = false;
  private listening = false;
  private stopping = false;
  private commits = 0;
  private restartTimer?: NodeJS.Timeout;
  private starting: Promise<void> = Promise.resolve();
  private readonly stopSignal = new AbortController();
  private phase: IngestPhase = 'connecting';
  private phaseSince: number;
  private running = false;
  private assignedPartitions: number[] = [];
  private lastStartError?: string;

  /** Read once; `Pick` keeps `this.config.kafka.*` at the many places that read it. */
  private readonly config: Pick<AppConfig, 'kafka' | 'ingest'>;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly exit: ProcessExit,
    readiness: ReadinessRegistry,
    fatalSignal: KafkaFatalSignal,
  ) {
    super();
    this.config = { kafka: config.get('kafka', { infer: true }), ingest: config.get('ingest', { infer: true }) };
    this.patterns = new Map([[this.config.kafka.topic, INGEST_CHUNK]]);
    this.phaseSince = clock.now();
    this._status$.next(this.phase);
    fatalSignal.listen((message) => this.fatal(message));
    readiness.register('ingest', () => ({
      ok: this.phase === 'joined',
      detail: {
        phase: this.phase,
        phaseForMs: this.clock.now() - this.phaseSince,
        running: this.running,
        assignedPartitions: this.assignedPartitions,
        ...(this.lastStartError && this.phase === 'connecting' ? { lastError: this.lastStartError } : {}),
      },
    }));
  }

  /**
   * Returns at once: HTTP and the other roles must not wait for Kafka, which may be unreachable or hold the join for
   * a whole session timeout. Readiness reports the phase meanwhile.
   */
  listen(callback: (error?: unknown) => void): void {
    const unhandled = [...this.patterns.values()].filter((p) => !this.getHandlerByPattern(p));
    if (unhandled.length > 0) return callback(new Error(`no @EventPattern handler for ${unhandled.join(', ')}`));
    this.listening = true;
    boundHeapGrowth();
    this.starting = this.startWithRetry().catch((e) => this.log.error({ err: e }, 'ingest start-up failed'));
    callback();
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    clearTimeout(this.restartTimer);
    // disconnect() waits for the batch in hand to finish and commit. It also waits for a pending JoinGroup, which the
    // broker holds until the dead member's session expires, and a start-up may be inside kafkajs's connect retries:
    // a member that has not joined has nothing in hand, so do not wait those out.
    const joinedOnce = this.phase === 'joined' || this.phase === 'rebalancing';
    const stopped = Promise.all([this.consumer?.disconnect().catch((e) => this.log.warn({ err: e }, 'consumer disconnect failed')), this.starting]);
    if (joinedOnce) await stopped;
    else await Promise.race([stopped, this.clock.sleep(SHUTDOWN_ABANDON_MS)]);
    this.running = false;
    this.setPhase('stopped');
  }

  /** kafkajs consumer instrumentation events (`consumer.events.*`), on every consumer this transport starts. */
  on(event: string, callback: Function): void {
    this.consumerListeners.push([event, callback as (event: unknown) => void]);
    this.consumer?.on(event as never, callback as never);
  }

  unwrap<T>(): T {
    if (!this.listening) throw new Error('Not listening: call startAllMicroservices() first.');
    return [this.kafka, this.consumer, this.producer] as T;
  }

  /** Runs the handler and waits for it, so its failure reaches the retry loop and its success the commit. */
  override async handleEvent(pattern: string, packet: ReadPacket, context: KafkaChunkContext): Promise<void> {
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) throw new Error(`no @EventPattern handler for ${pattern}`);
    await this.runWithProcessingHooks(context, async (runEndHook) => {
      const result = await handler(packet.data, context);
      if (isObservable(result)) await lastValueFrom(result.pipe(finalize(runEndHook)), { defaultValue: undefined });
      else runEndHook();
    });
  }

  private setPhase(phase: IngestPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.phaseSince = this.clock.now();
    this._status$.next(phase);
  }

  private async startWithRetry(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.connectProducer();
        if (this.stopping) return;
        await this.startConsumer();
        return;
      } catch (e) {
        if (this.stopping) return;
        const fatal = fatalKafkaMessage(e, this.config);
        if (fatal) return this.fatal(fatal);
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        const retryInMs = backoffMs(attempt, START_RETRY_BASE_MS, START_RETRY_CAP_MS, () => this.clock.random());
        // A code for /health/ready (unauthenticated: no free text); the message is in the log line below.
        this.lastStartError = errorCodeOf(e);
        this.setPhase('connecting');
        this.log.error({ err: e, attempt, retryInMs }, 'ingest could not start; retrying');
        await this.clock.sleep(retryInMs, this.stopSignal.signal);
      }
    }
  }

  /** The topics and the dead-letter producer; done once, kept across retries. */
  private async connectProducer(): Promise<void> {
    if (this.producerConnected) return;
    await ensureTopics(this.kafka, this.config);
    try {
      await this.producer.connect();
      if (this.stopping) throw new Error('shutting down');
    } catch (e) {
      await this.producer.disconnect().catch(() => undefined);
      throw e;
    }
    this.producerConnected = true;
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.config.kafka.groupId,
      sessionTimeout: this.config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.floor(this.config.kafka.sessionTimeoutMs / 10),
      // One fetch is held whole until every partition in it is done (kafkajs fetches again only then), so its size
      // is memory held per round: about one chunk (INGEST_MAX_BATCH events of ~200 bytes) per partition, and a
      // round of as many partitions as are consumed at once. See FETCH_BYTES_PER_PARTITION.
      maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
      maxBytes: FETCH_BYTES_PER_PARTITION * CONSUMED_CONCURRENTLY,
      // An empty fetch returns after this long and the next one starts: what an idle member costs (at 100 ms, ten
      // fetch rounds a second, 2–3% of a core). Events do not wait for it: the broker answers as soon as any arrive.
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      // kafkajs's own consumer default (5 retries), plus: no restart of its own once we are shutting down, or a
      // join cut short by disconnect() would start the consumer again after shutdown.
      retry: { retries: 5, restartOnFailure: async () => !this.stopping },
    });
    this.consumer = consumer;
    this.setPhase('connecting');
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.assignedPartitions = e.payload.memberAssignment[this.config.kafka.topic] ?? [];
      this.running = true;
      this.setPhase('joined');
      this.log.log({ partitions: this.assignedPartitions }, 'joined consumer group');
    });
    consumer.on(consumer.events.REBALANCING, () => this.setPhase('rebalancing'));
    consumer.on(consumer.events.STOP, () => {
      this.running = false;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.running = false;
      this.assignedPartitions = [];
      this.setPhase('crashed');
      if (this.stopping) {
        this.log.debug({ err: e.payload.error }, 'consumer stopped while starting');
        return;
      }
      const fatal = fatalKafkaMessage(e.payload.error, this.config);
      if (fatal) return this.fatal(fatal);
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      // kafkajs restarts by itself when it says so; otherwise (e.g. coordinator not found) we do.
      if (!e.payload.restart && !this.stopping) this.scheduleRestart(consumer);
    });
    for (const [event, callback] of this.consumerListeners) consumer.on(event as never, callback as never);
    await consumer.connect();
    await consumer.subscribe({ topics: [...this.patterns.keys()], fromBeginning: true });
    this.setPhase('joining');
    // Resolves once the join is done (or has crashed, which the CRASH handler deals with).
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.min(CONSUMED_CONCURRENTLY, this.config.kafka.partitions),
      eachBatch: (payload) => this.onBatch(consumer, payload),
    });
  }

  /**
   * Wrong credentials, an untrusted certificate or a missing topic the service may not create: no retry cures these,
   * so the process stops with the cause (exit 78) instead of retrying unready forever. Transient failures are retried.
   */
  private fatal(message: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal.abort();
    this.log.error({ cause: message }, `ingest cannot start: ${message}`);
    this.exit.fatal(message);
  }

  private scheduleRestart(old: Consumer): void {
    this.restartTimer = setTimeout(async () => {
      this.metrics.consumerRestarts.inc();
      await old.disconnect().catch(() => undefined);
      try {
        await this.startConsumer();
      } catch (e) {
        const fatal = fatalKafkaMessage(e, this.config);
        if (fatal) return this.fatal(fatal);
        this.log.error({ err: e }, 'consumer restart failed; retrying');
        if (!this.stopping) this.scheduleRestart(this.consumer ?? old);
      }
    }, RESTART_DELAY_MS);
  }

  private async onBatch(consumer: Consumer, { batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A join abandoned at shutdown may still complete inside kafkajs afterwards: that member must not consume.
    if (this.stopping) return;
    const pattern = this.patterns.get(batch.topic);
    if (!pattern) return;
    const context = new KafkaChunkContext([batch.topic, batch.partition, heartbeat, isRunning, isStale]);
    const max = this.config.ingest.maxBatch;
    for (let from = 0; from < batch.messages.length; from += max) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(from, from + max);
      const data: InboundMessage[] = chunk.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers ?? {},
      }));
      for (let attempt = 0; ; attempt++) {
        try {
          await this.handleEvent(pattern, { pattern, data }, context);
          break;
        } catch (e) {
          this.metrics.ingestRetries.inc();
          this.log.error({ err: e, partition: batch.partition, firstOffset: chunk[0].offset, attempt }, 'ingest batch failed; retrying');
          if (!isRunning() || isStale()) return; // not committed: the next owner replays it
          await this.clock.sleep(backoffMs(attempt, HANDLER_RETRY_BASE_MS, HANDLER_RETRY_CAP_MS, () => this.clock.random()));
          // The whole group waits for this member to rejoin: leave the batch (uncommitted, so it is fetched again,
          // here or by the next owner) and let kafkajs rejoin, rather than hold every other member up.
          await heartbeat().catch((err) => {
            if (mustRejoin(err)) throw err;
          });
        }
      }
      this.crashIfAsked();
      const last = chunk[chunk.length - 1].offset;
      resolveOffset(last);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    }
  }

  private crashIfAsked(): void {
    const n = this.config.ingest.crashAfterCommits;
    if (n !== undefined && ++this.commits >= n) process.kill(process.pid, 'SIGKILL');
  }
}

/** The error's code (kafkajs copies the socket's, e.g. ECONNREFUSED), else its class name. */
function errorCodeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return e instanceof Error ? e.name : 'unknown';
}
