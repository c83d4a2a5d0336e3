export * from './database';
export * from './ingest.repository';
export { MIGRATIONS } from './migrations';
