import type { Pool, PoolClient } from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';

/** A statement each pooled connection parses and plans once, under `name`, then only executes. */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * Runs a named prepared statement on the pool TypeORM keeps (its query() has no way to name one). One name is one
 * text for the life of a connection: Postgres refuses a name prepared with another text.
 */
export async function queryNamed<T>(ds: DataSource, statement: NamedStatement, values: unknown[]): Promise<T[]> {
  const pool = (ds.driver as unknown as { master: Pool }).master;
  return (await pool.query({ name: statement.name, text: statement.text, values })).rows as T[];
}

/** The same on a query runner's own connection, e.g. inside a transaction TypeORM holds. */
export async function queryNamedOn<T>(runner: QueryRunner, statement: NamedStatement, values: unknown[]): Promise<T[]> {
  const client = (runner as unknown as { databaseConnection: PoolClient }).databaseConnection;
  return (await client.query({ name: statement.name, text: statement.text, values })).rows as T[];
}
