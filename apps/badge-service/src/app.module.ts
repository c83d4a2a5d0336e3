import { DynamicModule, Module, Type } from '@nestjs/common';
import { AppConfig, ConfigModule } from '@badges/config';
import { LoggerModule } from 'nestjs-pino';
import { Clock } from './common/clock';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { IngestModule } from './ingest/ingest.module';
import { loggerParams } from './logging';
import { MetricsModule } from './metrics/metrics.module';

@Module({ providers: [Clock], exports: [Clock] })
class CommonModule {}

@Module({})
export class AppModule {
  /** One deployable; BADGE_ROLES picks which feature modules this process runs. */
  static forRoot(config: AppConfig): DynamicModule {
    const roles: Type[] = [];
    if (config.roles.has('ingest')) roles.push(IngestModule);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerParams(config)),
        CommonModule,
        MetricsModule,
        DatabaseModule,
        HealthModule,
        ...roles,
      ],
    };
  }
}
