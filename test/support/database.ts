import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createDataSource, ensureDatabase, migrate } from '@badges/store';

export const PG_SERVER = process.env.TEST_PG_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  name: string;
  url: string;
  ds: DataSource;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, on the machine's real Postgres. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  const name = `badges_${prefix}_${randomBytes(4).toString('hex')}`;
  const url = `${PG_SERVER}/${name}`;
  await ensureDatabase(url);
  const ds = createDataSource(url, 10, `test-${prefix}`);
  await ds.initialize();
  await migrate(ds);
  return {
    name,
    url,
    ds,
    async drop() {
      if (ds.isInitialized) await ds.destroy();
      await dropDatabase(name);
    },
  };
}

export async function dropDatabase(name: string): Promise<void> {
  const c = new Client({ connectionString: `${PG_SERVER}/postgres` });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
