import type { QueryRunner } from 'typeorm';
import * as audit from './audit.repository';
import { DIRTY_PREDICATE, dirtyPredicateOf } from './dirty-set';
import * as ingest from './ingest.repository';
import { MIGRATIONS } from './migrations';
import * as reconcile from './reconcile.repository';

/** Every statement the migrations' up() would run, in order (catalog reads answer "nothing there"). */
async function migrationStatements(): Promise<string[]> {
  const texts: string[] = [];
  const q = {
    query: async (text: string) => {
      texts.push(text);
      return [];
    },
    startTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
  } as unknown as QueryRunner;
  for (const M of MIGRATIONS) await new M().up(q);
  return texts;
}

const sqlOf = (...modules: Record<string, unknown>[]) =>
  modules.flatMap((m) => Object.entries(m).filter(([name, v]) => name.endsWith('_SQL') && typeof v === 'string')) as [string, string][];

/** Spellings of "desired ahead of pushed", qualified or not: each must be the constant's. */
const DESIRED_AHEAD = /\b(?:\w+\.)?desired_revision\s*>\s*(?:\w+\.)?pushed_revision\b/g;

describe('the dirty set', () => {
  it('is the predicate of every dirty-set partial index, byte for byte', async () => {
    const indexes = (await migrationStatements()).filter((t) => /CREATE INDEX .*badge_state_dirty/.test(t));
    expect(indexes.map((t) => /CREATE INDEX (?:CONCURRENTLY IF NOT EXISTS )?(\w+)/.exec(t)![1])).toEqual(['badge_state_dirty', 'badge_state_dirty_tenant', 'badge_state_dirty_lane', 'badge_state_dirty_tenant_lane']);
    for (const t of indexes) expect(t.trimEnd().endsWith(`WHERE ${DIRTY_PREDICATE}`)).toBe(true);
  });

  it('is spelled by every query of it through the constant, never by hand', () => {
    const statements = sqlOf(reconcile, audit, ingest);
    const users = statements.filter(([, text]) => text.includes(DIRTY_PREDICATE)).map(([name]) => name);
    expect(users).toEqual(
      expect.arrayContaining(['CLAIM_SQL', 'DUE_SCOPES_SQL', 'EARLIEST_DUE_SQL', 'DIRTY_SUMMARY_SQL', 'BACKLOG_SUMMARY_SQL', 'BACKLOG_SUMMARY_IN_TENANTS_SQL']),
    );
    for (const [name, text] of statements) {
      const spelled = text.match(DESIRED_AHEAD) ?? [];
      const through = text.split(DIRTY_PREDICATE).length - 1 + (text.split(dirtyPredicateOf('b')).length - 1);
      expect({ name, byHand: spelled.length - through }).toEqual({ name, byHand: 0 });
    }
  });
});
