export * from './database';
export * from './ingest.repository';
export { MIGRATIONS } from './migrations';
export * from './reconcile.repository';
export * from './audit.repository';
export * from './audit-partitions.repository';
export * from './app-ticket.repository';
export * from './mode.repository';
export type { BadgeCountColumns } from './badge-state.columns';
