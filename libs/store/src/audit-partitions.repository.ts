import { DataSource, QueryRunner } from 'typeorm';
import { withTryAdvisoryLock } from './advisory-lock';
import { withoutQueryLimit } from './database';

const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const PARTITION = /^badge_audit_p(\d{4})(\d{2})(\d{2})$/;

/** A UTC day as YYYY-MM-DD. Partition names and bounds are built only from values that pass this check. */
export function auditDay(at: Date | number): string {
  return new Date(typeof at === 'number' ? at : at.getTime()).toISOString().slice(0, 10);
}

export function addDays(day: string, n: number): string {
  return auditDay(dayStart(day).getTime() + n * DAY_MS);
}

export function dayStart(day: string): Date {
  const m = DAY.exec(day);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!d || auditDay(d) !== day) throw new Error(`not a day: ${JSON.stringify(day)}`);
  return d;
}

export function partitionName(day: string): string {
  dayStart(day);
  return `badge_audit_p${day.replace(/-/g, '')}`;
}

/** The day a managed partition holds, or null for a table this code does not manage. */
export function partitionDay(name: string): string | null {
  const m = PARTITION.exec(name);
  if (!m) return null;
  const day = `${m[1]}-${m[2]}-${m[3]}`;
  try {
    dayStart(day);
    return day;
  } catch {
    return null;
  }
}

/** Lock waits are bounded: a queued ACCESS EXCLUSIVE request would stall every audit insert behind it. */
export const MAINTENANCE_LOCK_TIMEOUT = '3s';

export const LIST_PARTITIONS_SQL = `
  SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'badge_audit'::regclass ORDER BY 1`;

/** Days with rows in the default partition: normally none, as partitions are created ahead of time. */
export const DEFAULT_PARTITION_DAYS_SQL = `
  SELECT DISTINCT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM badge_audit_default ORDER BY 1`;

export const PARTITION_EXISTS_SQL = `SELECT to_regclass($1) IS NOT NULL AS present`;

/**
 * The statements that create one day's partition. Attaching a range for which the default partition holds rows
 * fails, so the rows move first, in the same transaction. Writers wait on the parent for that short transaction
 * (SHARE ROW EXCLUSIVE conflicts with their ROW EXCLUSIVE, not with readers): a writer already routed to the
 * default partition, and waiting there, would fail its partition check after the attach instead of landing in the
 * new partition. Lock order parent → default, as writers take them.
 */
export function createPartitionSql(day: string): { lock: string[]; create: string; move: string; attach: string } {
  const name = partitionName(day);
  const from = `${day} 00:00:00+00`;
  const to = `${addDays(day, 1)} 00:00:00+00`;
  return {
    lock: [
      `SET LOCAL lock_timeout = '${MAINTENANCE_LOCK_TIMEOUT}'`,
      `LOCK TABLE ONLY badge_audit IN SHARE ROW EXCLUSIVE MODE`,
      `LOCK TABLE badge_audit_default IN ACCESS EXCLUSIVE MODE`,
    ],
    create: `CREATE TABLE ${name} (LIKE badge_audit INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
    move: `
      WITH moved AS (
        DELETE FROM badge_audit_default WHERE at >= '${from}'::timestamptz AND at < '${to}'::timestamptz RETURNING *
      ),
      ins AS (INSERT INTO ${name} SELECT * FROM moved RETURNING 1)
      SELECT count(*)::int AS n FROM ins`,
    attach: `ALTER TABLE badge_audit ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`,
  };
}

/** Dropping a whole partition is O(1) and leaves no dead rows, unlike DELETE. */
export function dropPartitionSql(day: string): string[] {
  return [`SET LOCAL lock_timeout = '${MAINTENANCE_LOCK_TIMEOUT}'`, `DROP TABLE ${partitionName(day)}`];
}

export interface MaintenancePlan {
  /** Days that must have a partition (typically yesterday through a few days ahead). */
  days: readonly string[];
  /** Partitions whose whole range ends at or before this instant are dropped. */
  dropBefore: Date;
}

export interface MaintenanceReport {
  created: string[];
  moved: number;
  dropped: string[];
  failed: { day: string; action: 'create' | 'drop'; error: string }[];
}

/** Creates and drops the daily partitions of badge_audit. */
export class AuditPartitionsRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Creates the partition for one UTC day, moving in any rows the default partition holds for it. Idempotent and
   * safe to race: the existence check runs under the lock.
   */
  async createPartition(day: string, runner?: QueryRunner): Promise<{ created: boolean; moved: number }> {
    return this.onRunner(runner, async (r) => {
      const sql = createPartitionSql(day);
      await r.startTransaction();
      try {
        for (const s of sql.lock) await r.query(s);
        const [{ present }] = await r.query(PARTITION_EXISTS_SQL, [partitionName(day)]);
        if (present) {
          await r.commitTransaction();
          return { created: false, moved: 0 };
        }
        await r.query(sql.create);
        const [{ n: moved }] = await r.query(sql.move);
        await r.query(sql.attach);
        await r.commitTransaction();
        return { created: true, moved };
      } catch (e) {
        await r.rollbackTransaction().catch(() => undefined);
        throw e;
      }
    });
  }

  async dropPartition(day: string, runner?: QueryRunner): Promise<void> {
    await this.onRunner(runner, async (r) => {
      await r.startTransaction();
      try {
        for (const s of dropPartitionSql(day)) await r.query(s);
        await r.commitTransaction();
      } catch (e) {
        await r.rollbackTransaction().catch(() => undefined);
        throw e;
      }
    });
  }

  /** The database's clock (ms): the audit rows' `at` is stamped by it, so retention is decided by it too. */
  async databaseNow(): Promise<number> {
    const [r] = await this.ds.query(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`);
    return r.now_ms;
  }

  /** Days of the managed partitions that exist now. */
  async partitionDays(runner?: QueryRunner): Promise<string[]> {
    return this.onRunner(runner, async (r) => {
      const rows: { name: string }[] = await r.query(LIST_PARTITIONS_SQL);
      return rows.map((x) => partitionDay(x.name)).filter((d): d is string => d !== null);
    });
  }

  /**
   * One maintenance pass on one replica at a time: the session advisory lock is held on one dedicated connection
   * for the whole pass. Returns null when another replica holds it. A day that fails is reported and left for the
   * next pass; the others go on.
   */
  async maintain(plan: MaintenancePlan): Promise<MaintenanceReport | null> {
    // Untimed: moving stray rows out of the default partition grows with them (lock waits stay bounded by lock_timeout).
    const pass = await withTryAdvisoryLock(this.ds, 'auditMaintenance', (session) => withoutQueryLimit(session, () => this.maintainLocked(session, plan)));
    return pass.acquired ? pass.result : null;
  }

  private async maintainLocked(r: QueryRunner, plan: MaintenancePlan): Promise<MaintenanceReport> {
    const report: MaintenanceReport = { created: [], moved: 0, dropped: [], failed: [] };
    const existing = new Set(await this.partitionDays(r));
    // Rows already in the default partition get a partition of their own too (then dropped below if expired).
    const strays: { day: string }[] = await r.query(DEFAULT_PARTITION_DAYS_SQL);
    const wanted = [...new Set([...plan.days, ...strays.map((s) => s.day)])].sort();
    for (const day of wanted) {
      if (existing.has(day)) continue;
      try {
        const { created, moved } = await this.createPartition(day, r);
        if (created) report.created.push(day);
        report.moved += moved;
        existing.add(day);
      } catch (e) {
        report.failed.push({ day, action: 'create', error: message(e) });
      }
    }
    for (const day of [...existing].sort()) {
      if (dayStart(addDays(day, 1)).getTime() > plan.dropBefore.getTime()) continue;
      try {
        await this.dropPartition(day, r);
        report.dropped.push(day);
      } catch (e) {
        report.failed.push({ day, action: 'drop', error: message(e) });
      }
    }
    return report;
  }

  private async onRunner<T>(runner: QueryRunner | undefined, fn: (r: QueryRunner) => Promise<T>): Promise<T> {
    if (runner) return fn(runner);
    const r = this.ds.createQueryRunner();
    await r.connect();
    try {
      return await fn(r);
    } finally {
      await r.release();
    }
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
