import { DynamicModule, Global, Module, Type } from '@nestjs/common';
import { AppConfig, AppConfigModule } from '@badges/config';
import { LoggerModule } from 'nestjs-pino';
import { AuditRetentionModule } from './audit/audit-retention.module';
import { AuditModule } from './audit/audit.module';
import { Clock } from './common/clock';
import { CorrelationModule } from './common/correlation.module';
import { ConsoleModule } from './console/console.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IngestModule } from './ingest/ingest.module';
import { loggerParams } from './logging';
import { MetricsModule } from './metrics/metrics.module';
import { ReconcileModule } from './reconcile/reconcile.module';

@Global()
@Module({ providers: [Clock], exports: [Clock] })
class CommonModule {}

@Module({})
export class AppModule {
  /**
   * One deployable; BADGE_ROLES picks which feature modules this process runs. `configModule` serves `config`
   * through ConfigService (main passes the one that parsed the environment).
   */
  static forRoot(config: AppConfig, configModule: DynamicModule | Promise<DynamicModule> = AppConfigModule.forRoot(config)): DynamicModule {
    const roles: (Type | DynamicModule)[] = [];
    if (config.roles.has('ingest')) roles.push(IngestModule);
    if (config.roles.has('reconcile')) roles.push(ReconcileModule.forRoot(config));
    if (config.roles.has('api')) roles.push(AuditModule.forRoot(config), ConsoleModule);
    return {
      module: AppModule,
      imports: [
        configModule,
        LoggerModule.forRoot(loggerParams(config)),
        CommonModule,
        MetricsModule,
        DatabaseModule,
        HealthModule,
        CorrelationModule,
        AuditRetentionModule,
        ...roles,
      ],
    };
  }
}
