import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { DIRTY_CHANNEL } from '@badges/store';
import { Client } from 'pg';

const RECONNECT_MS = 1000;

/** LISTENs for ingest's pg_notify. Only a hint to wake up early: polling stays the floor. */
@Injectable()
export class DirtyListener implements OnApplicationShutdown {
  private readonly log = new Logger(DirtyListener.name);
  private client?: Client;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private onWake: () => void = () => undefined;

  private readonly databaseUrl: string;

  constructor(config: ConfigService<AppConfig, true>) {
    this.databaseUrl = config.get('database', { infer: true }).url;
  }

  start(onWake: () => void): void {
    this.onWake = onWake;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.databaseUrl, application_name: 'badge-reconciler-listen' });
    this.client = client;
    const retry = () => {
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      if (!this.closed) this.timer = setTimeout(() => void this.connect(), RECONNECT_MS);
    };
    client.on('error', (e) => {
      this.log.warn({ err: e.message }, 'notification connection lost; reconnecting');
      retry();
    });
    client.on('notification', () => this.onWake());
    try {
      await client.connect();
      await client.query(`LISTEN ${DIRTY_CHANNEL}`);
      this.onWake(); // anything missed while disconnected
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not LISTEN; retrying');
      retry();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }
}
