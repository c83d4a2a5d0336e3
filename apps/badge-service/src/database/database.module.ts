import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { StoreModule, StoreOptions } from '@badges/store';

/** The store, set up from the app's configuration: the one place the database settings are read. */
export const DatabaseModule = StoreModule.forRootAsync({
  inject: [ConfigService],
  useFactory: (config: ConfigService<AppConfig, true>): StoreOptions => {
    const database = config.get('database', { infer: true });
    return {
      url: database.url,
      poolSize: database.poolSize,
      queryTimeoutMs: database.queryTimeoutMs,
      create: config.get('hardening', { infer: true }).databaseCreate,
      migrate: database.migrate,
      ingest: { maxSourcesPerUser: config.get('ingest', { infer: true }).maxSourcesPerUser },
    };
  },
});
