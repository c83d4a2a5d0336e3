import { Module } from '@nestjs/common';
import { ProcessExit } from '../common/process-exit';
import { KafkaModule } from '../kafka/kafka.module';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestController } from './ingest.controller';
import { IngestService } from './ingest.service';
import { KafkaBatchTransport } from './kafka-batch.transport';
import { ZeroSourceRetentionService } from './zero-source-retention.service';

/** The ingest role: main.ts connects KafkaBatchTransport as a microservice beside the HTTP app. */
@Module({
  imports: [KafkaModule],
  controllers: [IngestController],
  providers: [IngestService, KafkaBatchTransport, DeadLetterPublisher, ZeroSourceRetentionService, ProcessExit],
  exports: [KafkaBatchTransport],
})
export class IngestModule {}
