import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { IngestRepository, openDatabase } from '@badges/store';
import { DataSource } from 'typeorm';

const log = new Logger('Database');

export const databaseProviders = [
  {
    provide: DataSource,
    inject: [ConfigService],
    useFactory: async (config: ConfigService<AppConfig, true>): Promise<DataSource> => {
      const database = config.get('database', { infer: true });
      const { ds, applied } = await openDatabase({
        url: database.url,
        poolSize: database.poolSize,
        create: config.get('hardening', { infer: true }).databaseCreate,
        migrate: database.migrate,
      });
      if (applied.length > 0) log.log({ applied }, 'migrations applied');
      return ds;
    },
  },
  {
    provide: IngestRepository,
    inject: [DataSource, ConfigService],
    useFactory: (ds: DataSource, config: ConfigService<AppConfig, true>) => new IngestRepository(ds, { maxSourcesPerUser: config.get('ingest', { infer: true }).maxSourcesPerUser }),
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
