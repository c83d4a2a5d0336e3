import { Module } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestConsumer } from './ingest.consumer';
import { IngestService } from './ingest.service';

@Module({ providers: [IngestService, IngestConsumer, DeadLetterPublisher, Clock], exports: [IngestConsumer] })
export class IngestModule {}
