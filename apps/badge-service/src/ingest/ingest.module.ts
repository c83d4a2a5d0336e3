import { Module } from '@nestjs/common';
import { ProcessExit } from '../common/process-exit';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestConsumer } from './ingest.consumer';
import { IngestService } from './ingest.service';
import { ZeroSourceRetentionService } from './zero-source-retention.service';

@Module({
  providers: [IngestService, IngestConsumer, DeadLetterPublisher, ZeroSourceRetentionService, ProcessExit],
  exports: [IngestConsumer],
})
export class IngestModule {}
