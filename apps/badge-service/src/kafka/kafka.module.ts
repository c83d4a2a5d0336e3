import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { Admin, Kafka, Partitioners, Producer } from 'kafkajs';
import { ConsumerLagMonitor } from './consumer-lag.monitor';
import { KafkaFatalSignal } from './kafka-fatal.signal';
import { createKafka } from './kafka.factory';
import { KAFKA_ADMIN, KAFKA_CLIENT, KAFKA_PRODUCER } from './kafka.tokens';

/** Creating a kafkajs client connects nothing: connections are made in the background by their users. */
@Injectable()
class KafkaClientsShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(KAFKA_ADMIN) private readonly admin: Admin,
  ) {}

  // After the microservices have closed (Nest closes them before the shutdown hooks): no batch still sends.
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.producer.disconnect().catch(() => undefined), this.admin.disconnect().catch(() => undefined)]);
  }
}

/** The Kafka clients of this process, all from one kafkajs instance (one place for brokers, TLS and SASL). */
@Module({
  providers: [
    KafkaFatalSignal,
    {
      provide: KAFKA_CLIENT,
      inject: [ConfigService, KafkaFatalSignal],
      useFactory: (config: ConfigService<AppConfig, true>, fatal: KafkaFatalSignal): Kafka =>
        createKafka({ kafka: config.get('kafka', { infer: true }) }, config.get('roles', { infer: true }).has('ingest') ? 'ingest' : 'api', (message) => fatal.report(message)),
    },
    {
      provide: KAFKA_PRODUCER,
      inject: [KAFKA_CLIENT],
      useFactory: (kafka: Kafka): Producer =>
        kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner }),
    },
    { provide: KAFKA_ADMIN, inject: [KAFKA_CLIENT], useFactory: (kafka: Kafka): Admin => kafka.admin() },
    KafkaClientsShutdown,
    ConsumerLagMonitor,
  ],
  exports: [KAFKA_CLIENT, KAFKA_PRODUCER, KAFKA_ADMIN, KafkaFatalSignal, ConsumerLagMonitor],
})
export class KafkaModule {}
