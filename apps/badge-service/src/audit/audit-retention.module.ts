import { Module } from '@nestjs/common';
import { AuditRetentionService } from './audit-retention.service';

/** Imported in every role: whoever writes the audit trail keeps its partitions. */
@Module({ providers: [AuditRetentionService], exports: [AuditRetentionService] })
export class AuditRetentionModule {}
