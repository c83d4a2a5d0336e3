import { Module } from '@nestjs/common';
import { AuditRetentionService } from './audit-retention.service';
import { StatusCountFoldService } from './status-count-fold.service';

/** Imported in every role: whoever writes the audit trail keeps its partitions, and whoever writes badge_state folds
 * its status counts. */
@Module({ providers: [AuditRetentionService, StatusCountFoldService], exports: [AuditRetentionService, StatusCountFoldService] })
export class AuditRetentionModule {}
