import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { PeriodicTask } from '../common/periodic-task';
import { Admin } from 'kafkajs';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { KAFKA_ADMIN } from './kafka.tokens';

const LAG_INTERVAL_MS = 10_000;

export interface ConsumerLag {
  lag: Record<string, number>;
  lagMeasuredAt: number | null;
}

/**
 * How far the consumer group (KAFKA_GROUP_ID) is behind the end of each input partition, from the committed
 * offsets: known to any process with the admin client, so the api role reports it without consuming itself.
 */
@Injectable()
export class ConsumerLagMonitor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(ConsumerLagMonitor.name);
  private readonly task = new PeriodicTask({
    name: 'consumer lag',
    run: (signal) => this.measure(signal),
    firstDelayMs: () => LAG_INTERVAL_MS,
    nextDelayMs: () => LAG_INTERVAL_MS,
    log: this.log,
    failureLevel: 'warn',
  });
  private readonly kafkaConfig: AppConfig['kafka'];
  private connected?: Promise<void>;
  private measuring = false;
  private state: ConsumerLag = { lag: {}, lagMeasuredAt: null };

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(KAFKA_ADMIN) private readonly admin: Admin,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.kafkaConfig = config.get('kafka', { infer: true });
  }

  status(): ConsumerLag {
    return { lag: { ...this.state.lag }, lagMeasuredAt: this.state.lagMeasuredAt };
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  /**
   * Not waiting for a measurement in flight: against an unreachable broker kafkajs keeps connecting for many
   * seconds, and shutdown must not wait for that (the admin client is disconnected right after).
   */
  beforeApplicationShutdown(): void {
    void this.task.stop();
  }

  async measure(signal?: AbortSignal): Promise<void> {
    // kafkajs retries an unreachable broker for longer than the interval: one measurement at a time.
    if (this.measuring) return;
    this.measuring = true;
    try {
      this.connected ??= this.admin.connect();
      await this.connected.catch((e: unknown) => {
        this.connected = undefined;
        throw e;
      });
      const topic = this.kafkaConfig.topic;
      // Asking for the offsets of a missing topic may create it (auto.create.topics.enable): leave that to ingest.
      if (!(await this.admin.listTopics()).includes(topic)) return;
      const [ends, committed] = await Promise.all([
        this.admin.fetchTopicOffsets(topic),
        this.admin.fetchOffsets({ groupId: this.kafkaConfig.groupId, topics: [topic] }),
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
      this.state = { lag, lagMeasuredAt: this.clock.now() };
    } catch (e) {
      if (!signal?.aborted) this.log.warn({ err: e }, 'could not measure consumer lag');
    } finally {
      this.measuring = false;
    }
  }
}
