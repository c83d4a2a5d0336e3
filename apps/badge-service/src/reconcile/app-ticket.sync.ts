import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { StoreAppTokenProvider, TenantTokenProvider } from '@badges/feishu';
import { AppTicketRepository } from '@badges/store';
import { TENANT_TOKENS } from './feishu.providers';

const SYNC_MS = 15_000;
/** Feishu pushes the ticket to our callback, which must be listening by then: bootstrap runs before listen. */
const FIRST_REQUEST_MS = 1_000;

/**
 * Store apps: Feishu pushes the app_ticket to one replica's callback. It is kept in Postgres and every replica
 * picks it up from there; with none stored yet, one is asked for.
 */
@Injectable()
export class AppTicketSync implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(AppTicketSync.name);
  private timer?: NodeJS.Timeout;
  private current: string | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TENANT_TOKENS) private readonly tokens: TenantTokenProvider,
    private readonly repository: AppTicketRepository,
  ) {}

  private get store(): StoreAppTokenProvider | null {
    return this.tokens instanceof StoreAppTokenProvider ? this.tokens : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.store) return;
    await this.refresh();
    const first = setTimeout(() => void this.refresh(true), FIRST_REQUEST_MS);
    first.unref();
    this.timer = setInterval(() => void this.refresh(true), SYNC_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** From the event callback: keep it for every replica, and use it here at once. */
  async received(ticket: string): Promise<void> {
    this.store?.setAppTicket(ticket);
    this.current = ticket;
    await this.repository.save(this.config.feishu.appId, ticket);
  }

  /** Picks up a ticket another replica stored; with none anywhere, asks Feishu for one (it throttles itself). */
  private async refresh(askIfMissing = false): Promise<void> {
    try {
      const ticket = await this.repository.load(this.config.feishu.appId);
      if (ticket !== null && ticket !== this.current) {
        this.current = ticket;
        this.store?.setAppTicket(ticket);
      }
      if (askIfMissing && this.current === null) await this.store?.requestAppTicket();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not refresh the app_ticket');
    }
  }
}
