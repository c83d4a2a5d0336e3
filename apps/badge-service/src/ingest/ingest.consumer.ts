import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { Admin, Consumer, EachBatchPayload, Kafka, Partitioners, Producer } from 'kafkajs';
import { Clock } from '../common/clock';
import { backoffMs } from '../common/retry';
import { ProcessExit } from '../common/process-exit';
import { fatalKafkaMessage } from '../kafka/kafka-failure';
import { createKafka, ensureTopics } from '../kafka/kafka.factory';
import { ReadinessRegistry } from '../health/readiness.registry';
import { Metrics } from '../metrics/metrics.service';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestService } from './ingest.service';
import { InboundMessage } from './ingest.types';

const LAG_INTERVAL_MS = 10_000;
const RESTART_DELAY_MS = 2_000;
const DB_RETRY_BASE_MS = 200;
const DB_RETRY_CAP_MS = 5_000;
const START_RETRY_BASE_MS = 500;
const START_RETRY_CAP_MS = 15_000;
/** How long shutdown waits for a member that has not joined yet (a pending join, a connect being retried). */
const SHUTDOWN_ABANDON_MS = 3_000;
/** Heartbeat answers that mean the group is rebalancing and waits for this member to rejoin. */
const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']);
const mustRejoin = (e: unknown) => REJOIN.has((e as { type?: string } | null)?.type ?? '');

/**
 * Where the member stands in its group. A restarted member's join waits for the dead member's session to expire
 * (KAFKA_SESSION_TIMEOUT_MS), so "joining" may last that long; only "joined" is ready.
 */
export type ConsumerPhase = 'connecting' | 'joining' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

export interface ConsumerStatus {
  phase: ConsumerPhase;
  running: boolean;
  assignedPartitions: number[];
  lag: Record<string, number>;
  lagMeasuredAt: number | null;
}

/**
 * Owns the kafkajs consumer (eachBatch, manual offsets) rather than Nest's Kafka transport, which hands over
 * one message at a time. Offsets are committed only after the batch's database transaction has committed.
 */
@Injectable()
export class IngestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(IngestConsumer.name);
  private kafka!: Kafka;
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private stopping = false;
  private commits = 0;
  private lagTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private starting: Promise<void> = Promise.resolve();
  private readonly stopSignal = new AbortController();
  private phaseSince = 0;
  private lastStartError?: string;
  private readonly state: ConsumerStatus = { phase: 'connecting', running: false, assignedPartitions: [], lag: {}, lagMeasuredAt: null };

  /** Read once; `Pick` keeps `this.config.kafka.*` at the many places that read it. */
  private readonly config: Pick<AppConfig, 'kafka' | 'ingest'>;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly ingest: IngestService,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    readiness: ReadinessRegistry,
    private readonly exit: ProcessExit,
  ) {
    this.config = { kafka: config.get('kafka', { infer: true }), ingest: config.get('ingest', { infer: true }) };
    this.phaseSince = clock.now();
    readiness.register('ingest', () => ({
      ok: this.state.phase === 'joined',
      detail: {
        phase: this.state.phase,
        phaseForMs: this.clock.now() - this.phaseSince,
        running: this.state.running,
        assignedPartitions: this.state.assignedPartitions,
        ...(this.lastStartError && this.state.phase === 'connecting' ? { lastError: this.lastStartError } : {}),
      },
    }));
  }

  status(): ConsumerStatus {
    return { ...this.state, assignedPartitions: [...this.state.assignedPartitions], lag: { ...this.state.lag } };
  }

  /**
   * Starts ingest in the background: HTTP and the other roles must not wait for Kafka, which may be unreachable or
   * hold the join for a whole session timeout. Readiness reports the phase meanwhile.
   */
  onApplicationBootstrap(): void {
    this.kafka = createKafka(this.config, 'ingest', (message) => this.fatal(message));
    this.starting = this.startWithRetry().catch((e) => this.log.error({ err: e }, 'ingest start-up failed'));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    clearInterval(this.lagTimer);
    clearTimeout(this.restartTimer);
    // disconnect() waits for the batch in hand to finish and commit. It also waits for a pending JoinGroup, which the
    // broker holds until the dead member's session expires, and a start-up may be inside kafkajs's connect retries:
    // a member that has not joined has nothing in hand, so do not wait those out.
    const joinedOnce = this.state.phase === 'joined' || this.state.phase === 'rebalancing';
    const stopped = Promise.all([
      this.consumer?.disconnect().catch((e) => this.log.warn({ err: e }, 'consumer disconnect failed')),
      this.starting,
    ]);
    if (joinedOnce) await stopped;
    else await Promise.race([stopped, this.clock.sleep(SHUTDOWN_ABANDON_MS)]);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.state.running = false;
    this.setPhase('stopped');
  }

  private async startWithRetry(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.connectClients();
        if (this.stopping) return;
        this.lagTimer ??= setInterval(() => void this.measureLag(), LAG_INTERVAL_MS);
        this.lagTimer.unref();
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

  /** Topics, the dead-letter producer and the admin client; each step done once, kept across retries. */
  private async connectClients(): Promise<void> {
    if (!this.producer) {
      await ensureTopics(this.kafka, this.config);
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      try {
        await producer.connect();
        if (this.stopping) throw new Error('shutting down');
      } catch (e) {
        await producer.disconnect().catch(() => undefined);
        throw e;
      }
      this.producer = producer;
      this.deadLetters.attach(producer);
    }
    if (!this.admin) {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
        if (this.stopping) throw new Error('shutting down');
      } catch (e) {
        await admin.disconnect().catch(() => undefined);
        throw e;
      }
      this.admin = admin;
    }
  }

  private setPhase(phase: ConsumerPhase): void {
    if (this.state.phase === phase) return;
    this.state.phase = phase;
    this.phaseSince = this.clock.now();
  }

  private async startConsumer(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.config.kafka.groupId,
      sessionTimeout: this.config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.floor(this.config.kafka.sessionTimeoutMs / 10),
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
      // kafkajs's own consumer default (5 retries), plus: no restart of its own once we are shutting down, or a
      // join cut short by disconnect() would start the consumer again after shutdown.
      retry: { retries: 5, restartOnFailure: async () => !this.stopping },
    });
    this.consumer = consumer;
    this.setPhase('connecting');
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.state.assignedPartitions = e.payload.memberAssignment[this.config.kafka.topic] ?? [];
      this.state.running = true;
      this.setPhase('joined');
      this.log.log({ partitions: this.state.assignedPartitions }, 'joined consumer group');
    });
    consumer.on(consumer.events.REBALANCING, () => this.setPhase('rebalancing'));
    consumer.on(consumer.events.STOP, () => {
      this.state.running = false;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.state.running = false;
      this.state.assignedPartitions = [];
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
    await consumer.connect();
    await consumer.subscribe({ topics: [this.config.kafka.topic], fromBeginning: true });
    this.setPhase('joining');
    // Resolves once the join is done (or has crashed, which the CRASH handler deals with).
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.min(3, this.config.kafka.partitions),
      eachBatch: (payload) => this.onBatch(payload),
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

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    // A join abandoned at shutdown may still complete inside kafkajs afterwards: that member must not consume.
    if (this.stopping) return;
    const max = this.config.ingest.maxBatch;
    for (let from = 0; from < batch.messages.length; from += max) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(from, from + max);
      const inbound: InboundMessage[] = chunk.map((m) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
        headers: m.headers ?? {},
      }));
      for (let attempt = 0; ; attempt++) {
        try {
          await this.ingest.apply(inbound);
          break;
        } catch (e) {
          this.metrics.ingestRetries.inc();
          this.log.error({ err: e, partition: batch.partition, firstOffset: chunk[0].offset, attempt }, 'ingest batch failed; retrying');
          if (!isRunning() || isStale()) return; // not committed: the next owner replays it
          await this.clock.sleep(backoffMs(attempt, DB_RETRY_BASE_MS, DB_RETRY_CAP_MS, () => this.clock.random()));
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
      await this.consumer!.commitOffsets([
        { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
      ]);
      await heartbeat();
    }
  }

  private crashIfAsked(): void {
    const n = this.config.ingest.crashAfterCommits;
    if (n !== undefined && ++this.commits >= n) process.kill(process.pid, 'SIGKILL');
  }

  private async measureLag(): Promise<void> {
    if (!this.admin) return;
    try {
      const topic = this.config.kafka.topic;
      const [ends, committed] = await Promise.all([
        this.admin.fetchTopicOffsets(topic),
        this.admin.fetchOffsets({ groupId: this.config.kafka.groupId, topics: [topic] }),
      ]);
      const done = new Map(committed[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
      const lag: Record<string, number> = {};
      for (const p of ends) {
        const end = BigInt(p.high);
        const at = done.get(p.partition) ?? -1n;
        const behind = at < 0n ? end - BigInt(p.low) : end - at;
        lag[p.partition] = Number(behind < 0n ? 0n : behind);
        this.metrics.consumerLag.set({ partition: String(p.partition) }, lag[p.partition]);
      }
      this.state.lag = lag;
      this.state.lagMeasuredAt = this.clock.now();
    } catch (e) {
      this.log.warn({ err: e }, 'could not measure consumer lag');
    }
  }
}

/** The error's code (kafkajs copies the socket's, e.g. ECONNREFUSED), else its class name. */
function errorCodeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code;
  return e instanceof Error ? e.name : 'unknown';
}
