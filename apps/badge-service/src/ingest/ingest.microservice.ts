import { INestApplication } from '@nestjs/common';
import type { CustomStrategy } from '@nestjs/microservices';
import { KafkaBatchTransport } from './kafka-batch.transport';

/**
 * Runs ingest as a microservice of `app` (hybrid: one container, the app's filters and shutdown). Returns before the
 * consumer group is joined, so HTTP and the other roles never wait for Kafka.
 */
export async function startIngestMicroservice(app: INestApplication): Promise<void> {
  await app.init();
  app.connectMicroservice<CustomStrategy>({ strategy: app.get(KafkaBatchTransport) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
}
