import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { IngestRepository, openDatabase } from '@badges/store';
import { DataSource } from 'typeorm';

const log = new Logger('Database');

export const databaseProviders = [
  {
    provide: DataSource,
    inject: [APP_CONFIG],
    useFactory: async (config: AppConfig): Promise<DataSource> => {
      const { ds, applied } = await openDatabase({
        url: config.database.url,
        poolSize: config.database.poolSize,
        create: config.hardening.databaseCreate,
        migrate: config.database.migrate,
      });
      if (applied.length > 0) log.log({ applied }, 'migrations applied');
      return ds;
    },
  },
  {
    provide: IngestRepository,
    inject: [DataSource, APP_CONFIG],
    useFactory: (ds: DataSource, config: AppConfig) => new IngestRepository(ds, { maxSourcesPerUser: config.ingest.maxSourcesPerUser }),
  },
];

@Global()
@Module({ providers: databaseProviders, exports: databaseProviders.map((p) => p.provide) })
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
