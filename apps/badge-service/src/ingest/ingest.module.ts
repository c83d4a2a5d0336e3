import { Module } from '@nestjs/common';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestConsumer } from './ingest.consumer';
import { IngestService } from './ingest.service';

@Module({ providers: [IngestService, IngestConsumer, DeadLetterPublisher], exports: [IngestConsumer] })
export class IngestModule {}
