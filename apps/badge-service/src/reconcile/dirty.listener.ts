import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ChannelSubscription, DatabaseService, DIRTY_CHANNEL } from '@badges/store';

/** LISTENs for ingest's pg_notify. Only a hint to wake up early: polling stays the floor. */
@Injectable()
export class DirtyListener implements OnApplicationShutdown {
  private readonly log = new Logger(DirtyListener.name);
  private subscription?: ChannelSubscription;

  constructor(private readonly database: DatabaseService) {}

  start(onWake: () => void): void {
    this.subscription = this.database.listen(DIRTY_CHANNEL, {
      notify: () => onWake(),
      connected: () => onWake(), // anything missed while disconnected
      failed: (phase, message) =>
        this.log.warn({ err: message }, phase === 'lost' ? 'notification connection lost; reconnecting' : 'could not LISTEN; retrying'),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.close();
  }
}
