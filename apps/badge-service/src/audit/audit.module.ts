import { DynamicModule, Module, Provider } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ThrottlerModule } from '@nestjs/throttler';
import { ConsumerLagMonitor } from '../kafka/consumer-lag.monitor';
import { KafkaModule } from '../kafka/kafka.module';
import { AuditSeriesService } from './audit-series.service';
import { AuditStatsService } from './audit-stats.service';
import { auditThrottlerOptions, AuditThrottlerGuard } from './audit-throttler.guard';
import { AuditTokenGuard } from './audit-token.guard';
import { BadgeAuditService } from './badge-audit.service';
import { BadgesController } from './badges.controller';
import { CONSUMER_LAG } from './consumer-lag';
import { SourcesController } from './sources.controller';
import { StatsController } from './stats.controller';

/** The audit API under /v1 (the api role). */
@Module({})
export class AuditModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      BadgeAuditService,
      AuditStatsService,
      AuditSeriesService,
      AuditTokenGuard,
      AuditThrottlerGuard,
      // From the group's committed offsets, whichever roles this process runs.
      { provide: CONSUMER_LAG, useExisting: ConsumerLagMonitor },
    ];
    return {
      module: AuditModule,
      imports: [ThrottlerModule.forRoot(auditThrottlerOptions(config)), KafkaModule],
      controllers: [BadgesController, StatsController, SourcesController],
      providers,
    };
  }
}
