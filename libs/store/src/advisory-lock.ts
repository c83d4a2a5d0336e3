import { DataSource, QueryRunner } from 'typeorm';
import { ADVISORY_LOCKS } from './database';

/** A job that must run on one replica at a time, named by its key in ADVISORY_LOCKS. */
export type AdvisoryLock = Exclude<keyof typeof ADVISORY_LOCKS, 'migrations'>;

/** Whether the lock was free, and then what the job returned. */
export type LockOutcome<T> = { acquired: true; result: T } | { acquired: false };

export const TRY_ADVISORY_LOCK_SQL = `SELECT pg_try_advisory_lock($1::bigint) AS locked`;
export const ADVISORY_UNLOCK_SQL = `SELECT pg_advisory_unlock($1::bigint) AS unlocked`;

/**
 * Runs `job` only if the session advisory lock `lock` is free, holding it on one pooled connection of its own (given
 * to `job`, which may run its own transactions on it) and giving it back afterwards, whether the job succeeded or
 * threw (the job's error is rethrown). A lock that could not be given back (the connection broke mid-job, say) must
 * not go back to the pool with its session: that connection is discarded, which ends the session and the lock.
 */
export async function withTryAdvisoryLock<T>(ds: DataSource, lock: AdvisoryLock, job: (session: QueryRunner) => Promise<T>): Promise<LockOutcome<T>> {
  const key = ADVISORY_LOCKS[lock];
  const session = ds.createQueryRunner();
  await session.connect();
  let unlockFailure: Error | undefined;
  try {
    const [{ locked }] = await session.query(TRY_ADVISORY_LOCK_SQL, [key]);
    if (!locked) return { acquired: false };
    try {
      return { acquired: true, result: await job(session) };
    } finally {
      unlockFailure = await session.query(ADVISORY_UNLOCK_SQL, [key]).then(
        ([r]: { unlocked: boolean }[]) => (r?.unlocked === true ? undefined : new Error(`advisory lock ${lock} was not held at unlock`)),
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
    }
  } finally {
    if (unlockFailure === undefined) await session.release();
    else await discard(session, unlockFailure);
  }
}

/** pg-pool destroys a client released with an error; TypeORM's runner passes one on through this (not public) method. */
async function discard(session: QueryRunner, why: Error): Promise<void> {
  const release = (session as unknown as { releasePostgresConnection?: (err: Error) => Promise<void> }).releasePostgresConnection;
  await (typeof release === 'function' ? release.call(session, why) : session.release());
}
