import { DataSource } from 'typeorm';
import { AdvisoryLock, LockOutcome, withTryAdvisoryLock } from './advisory-lock';
import { ChannelHandlers, ChannelSubscription, listenOn } from './channel-listener';

export const PING_SQL = 'SELECT 1';

/** What the app may do with the database itself, beyond the repositories: no SQL crosses this boundary. */
export class DatabaseService {
  constructor(private readonly ds: DataSource) {}

  /** A round trip through the pool (readiness). */
  async ping(): Promise<void> {
    await this.ds.query(PING_SQL);
  }

  /**
   * Runs `job` only on the replica that gets the advisory lock `lock` (the others get `{ acquired: false }`), and
   * gives the lock back after it, even when it throws. The lock is a session lock held on a connection of its own
   * for the whole job; the job's own queries go through the pool.
   */
  tryLock<T>(lock: AdvisoryLock, job: () => Promise<T>): Promise<LockOutcome<T>> {
    return withTryAdvisoryLock(this.ds, lock, () => job());
  }

  /** LISTEN on `channel` (an identifier), reconnecting after any failure until the subscription is closed. */
  listen(channel: string, handlers: ChannelHandlers): ChannelSubscription {
    const { url, applicationName } = this.ds.options as { url?: string; applicationName?: string };
    if (url === undefined) throw new Error('the data source has no url to LISTEN through');
    return listenOn(url, `${applicationName ?? 'badge-reconciler'}-listen`, channel, handlers);
  }
}
