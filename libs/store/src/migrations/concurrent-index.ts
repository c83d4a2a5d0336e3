import { QueryRunner } from 'typeorm';

/** An index whose CREATE INDEX CONCURRENTLY was interrupted stays behind, invalid: drop it so it is built again. */
export async function dropIfInvalid(q: QueryRunner, index: string): Promise<void> {
  const [row] = await q.query(
    `SELECT NOT i.indisvalid AS invalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [index],
  );
  if (row?.invalid) await q.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
}
