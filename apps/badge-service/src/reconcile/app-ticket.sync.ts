import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { StoreAppTokenProvider, TenantTokenProvider } from '@badges/feishu';
import { AppTicketRepository, TicketOutcome } from '@badges/store';
import { PeriodicTask } from '../common/periodic-task';
import { Metrics } from '../metrics/metrics.service';
import { TENANT_TOKENS } from './feishu.providers';

const SYNC_MS = 15_000;
/** Feishu pushes the ticket to our callback, which must be listening by then: bootstrap runs before listen. */
const FIRST_REQUEST_MS = 1_000;

/**
 * Store apps: Feishu pushes the app_ticket to one replica's callback. It is kept in Postgres and every replica
 * picks it up from there; with none stored yet, one is asked for.
 */
@Injectable()
export class AppTicketSync implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger(AppTicketSync.name);
  private readonly sync = new PeriodicTask({
    name: 'app_ticket sync',
    run: () => this.refresh(true),
    firstDelayMs: () => FIRST_REQUEST_MS,
    nextDelayMs: () => SYNC_MS,
    log: this.log,
    failureLevel: 'warn',
  });
  private current: string | null = null;
  private readonly appId: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(TENANT_TOKENS) private readonly tokens: TenantTokenProvider,
    private readonly repository: AppTicketRepository,
    private readonly metrics: Metrics,
  ) {
    this.appId = config.get('feishu', { infer: true }).appId;
  }

  private get store(): StoreAppTokenProvider | null {
    return this.tokens instanceof StoreAppTokenProvider ? this.tokens : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.store) return;
    this.metrics.appTicketReceived.set(0);
    await this.refresh();
    this.sync.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.sync.stop();
  }

  /** From the event callback: kept for every replica and used here at once, unless it is a replay or older. */
  async received(ticket: string, issuedAt: Date, eventId?: string): Promise<TicketOutcome> {
    const outcome = await this.repository.accept(this.appId, ticket, issuedAt, eventId);
    if (outcome === 'stored') this.use(ticket);
    return outcome;
  }

  private use(ticket: string): void {
    this.current = ticket;
    this.store?.setAppTicket(ticket);
    this.metrics.appTicketReceived.set(1);
  }

  /** Picks up a ticket another replica stored; with none anywhere, asks Feishu for one (it throttles itself). */
  private async refresh(askIfMissing = false): Promise<void> {
    try {
      const ticket = await this.repository.load(this.appId);
      if (ticket !== null && ticket !== this.current) this.use(ticket);
      if (askIfMissing && this.current === null) await this.store?.requestAppTicket();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not refresh the app_ticket');
    }
  }
}
