import { Module } from '@nestjs/common';
import { AuditPartitionsRepository } from '@badges/store';
import { DataSource } from 'typeorm';
import { AuditRetentionService } from './audit-retention.service';

/** Imported in every role: whoever writes the audit trail keeps its partitions. */
@Module({
  providers: [
    { provide: AuditPartitionsRepository, inject: [DataSource], useFactory: (ds: DataSource) => new AuditPartitionsRepository(ds) },
    AuditRetentionService,
  ],
  exports: [AuditRetentionService],
})
export class AuditRetentionModule {}
