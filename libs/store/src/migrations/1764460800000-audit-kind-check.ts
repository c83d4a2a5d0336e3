import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * AUDIT_KINDS (vocabulary.ts) as this migration wrote them: a released migration never changes, so it keeps its own
 * copy, and audit-kind-check.spec.ts holds the copy equal to the vocabulary. A new kind is a new migration that
 * replaces the CHECK (and moves that test to the new copy).
 */
export const AUDIT_KINDS_1764460800000 = ['change', 'stale', 'rejected', 'push', 'resync'] as const;

export const AUDIT_KIND_CHECK = 'badge_audit_kind_check';

/** How long adding the constraint may wait for its lock, and how many times it tries, before start-up fails. */
const LOCK_TIMEOUT = '2s';
const LOCK_ATTEMPTS = 5;

/**
 * badge_audit.kind only takes the kinds the service writes, so a typo in a statement fails at once instead of
 * writing history no client can read. On the partitioned parent the CHECK reaches every partition, present and
 * future (CREATE TABLE ... PARTITION OF inherits it; the maintenance pass's LIKE ... INCLUDING CONSTRAINTS copies it,
 * and ATTACH PARTITION refuses a table without it).
 *
 * Two steps, each in its own transaction, so the table keeps taking writes: ADD ... NOT VALID needs ACCESS EXCLUSIVE
 * on the parent and every partition, but only for a catalog change (bounded by lock_timeout, so a long transaction
 * ahead of it does not make every audit insert queue behind it); VALIDATE then scans the existing rows under SHARE
 * UPDATE EXCLUSIVE, which inserts and reads do not wait for. Re-run after a failure between the two, it validates.
 */
export class AuditKindCheck1764460800000 implements MigrationInterface {
  name = 'AuditKindCheck1764460800000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    if (!(await constraintExists(q))) await addNotValid(q);
    await q.query(`ALTER TABLE badge_audit VALIDATE CONSTRAINT ${AUDIT_KIND_CHECK}`);
  }

  /** Dropped on the parent, the CHECK goes from every partition too (theirs are inherited, not local). */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE badge_audit DROP CONSTRAINT IF EXISTS ${AUDIT_KIND_CHECK}`);
  }
}

async function constraintExists(q: QueryRunner): Promise<boolean> {
  const rows = await q.query(`SELECT 1 FROM pg_constraint WHERE conrelid = 'badge_audit'::regclass AND conname = $1`, [AUDIT_KIND_CHECK]);
  return rows.length > 0;
}

async function addNotValid(q: QueryRunner): Promise<void> {
  const kinds = AUDIT_KINDS_1764460800000.map((k) => `'${k}'`).join(', ');
  for (let attempt = 1; ; attempt++) {
    await q.startTransaction();
    try {
      await q.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      await q.query(`ALTER TABLE badge_audit ADD CONSTRAINT ${AUDIT_KIND_CHECK} CHECK (kind IN (${kinds})) NOT VALID`);
      await q.commitTransaction();
      return;
    } catch (e) {
      await q.rollbackTransaction().catch(() => undefined);
      // 55P03 lock_not_available: something held the table for longer than LOCK_TIMEOUT.
      if ((e as { code?: string }).code !== '55P03' || attempt >= LOCK_ATTEMPTS) throw e;
    }
  }
}
