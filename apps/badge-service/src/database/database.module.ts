import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { createDataSource, ensureDatabase, IngestRepository, migrate } from '@badges/store';
import { DataSource } from 'typeorm';

const log = new Logger('Database');

export const databaseProviders = [
  {
    provide: DataSource,
    inject: [APP_CONFIG],
    useFactory: async (config: AppConfig): Promise<DataSource> => {
      await ensureDatabase(config.database.url);
      const ds = createDataSource(config.database.url, config.database.poolSize);
      await ds.initialize();
      if (config.database.migrate) {
        const applied = await migrate(ds);
        if (applied.length > 0) log.log({ applied }, 'migrations applied');
      }
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
