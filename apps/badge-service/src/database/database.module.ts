import { APP_CONFIG, AppConfig } from '@badges/config';
import { StoreModule, StoreOptions } from '@badges/store';

/** The store, set up from the app's configuration: the one place the database settings are read. */
export const DatabaseModule = StoreModule.forRootAsync({
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig): StoreOptions => ({
    url: config.database.url,
    poolSize: config.database.poolSize,
    create: config.hardening.databaseCreate,
    migrate: config.database.migrate,
    ingest: { maxSourcesPerUser: config.ingest.maxSourcesPerUser },
  }),
});
