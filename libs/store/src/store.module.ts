import { DynamicModule, FactoryProvider, Global, Inject, Logger, Module, ModuleMetadata, OnApplicationShutdown, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppTicketRepository } from './app-ticket.repository';
import { AuditPartitionsRepository } from './audit-partitions.repository';
import { AuditLookbackRepository, AuditRepository } from './audit.repository';
import { OpenDatabaseOptions, openDatabase } from './database';
import { DatabaseService } from './database.service';
import { IngestRepository, IngestRepositoryOptions } from './ingest.repository';
import { ModeRepository } from './mode.repository';
import { ReconcileRepository } from './reconcile.repository';
import { StatusCountsRepository } from './status-counts.repository';

export interface StoreOptions extends OpenDatabaseOptions {
  readonly ingest: IngestRepositoryOptions;
}

export interface StoreModuleAsyncOptions {
  readonly imports?: ModuleMetadata['imports'];
  readonly inject?: FactoryProvider['inject'];
  readonly useFactory: (...args: any[]) => StoreOptions | Promise<StoreOptions>;
}

export const STORE_OPTIONS = Symbol('STORE_OPTIONS');

const log = new Logger('Database');

/** The connection pool: opened (database created and migrated when asked) before anything that needs it starts. */
const dataSource: Provider = {
  provide: DataSource,
  inject: [STORE_OPTIONS],
  useFactory: async (o: StoreOptions): Promise<DataSource> => {
    const { ds, applied } = await openDatabase(o);
    if (applied.length > 0) log.log({ applied }, 'migrations applied');
    return ds;
  },
};

const repository = <T>(type: new (ds: DataSource) => T): Provider => ({ provide: type, inject: [DataSource], useFactory: (ds: DataSource) => new type(ds) });

const EXPORTED = [DatabaseService, IngestRepository, ReconcileRepository, ModeRepository, AuditLookbackRepository, AuditRepository, AuditPartitionsRepository, AppTicketRepository, StatusCountsRepository];

/**
 * The database, sealed: every repository and the DatabaseService, global, and nothing else. The DataSource is
 * this module's own (not exported), so SQL and TypeORM stay in libs/store.
 */
@Global()
@Module({})
export class StoreModule implements OnApplicationShutdown {
  static forRootAsync(options: StoreModuleAsyncOptions): DynamicModule {
    return {
      module: StoreModule,
      imports: options.imports ?? [],
      providers: [
        { provide: STORE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        dataSource,
        repository(DatabaseService),
        {
          provide: IngestRepository,
          inject: [DataSource, STORE_OPTIONS],
          useFactory: (ds: DataSource, o: StoreOptions) => new IngestRepository(ds, o.ingest),
        },
        repository(ReconcileRepository),
        repository(ModeRepository),
        repository(AuditRepository),
        repository(AuditLookbackRepository),
        repository(AuditPartitionsRepository),
        repository(AppTicketRepository),
        repository(StatusCountsRepository),
      ],
      exports: EXPORTED,
    };
  }

  constructor(@Inject(DataSource) private readonly ds: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
