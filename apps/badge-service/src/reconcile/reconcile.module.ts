import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { StoreAppTokenProvider, TenantTokenProvider } from '@badges/feishu';
import { AppTicketRepository, ReconcileRepository } from '@badges/store';
import { DataSource } from 'typeorm';
import { ReadinessRegistry } from '../health/readiness.registry';
import { AppTicketSync } from './app-ticket.sync';
import { DirtyListener } from './dirty.listener';
import { FeishuCallbackController } from './feishu-callback.controller';
import { feishuProviders, TENANT_TOKENS } from './feishu.providers';
import { RECONCILE } from './reconcile.constants';
import { ReconcileLoop } from './reconcile.loop';
import { ResyncScheduler } from './resync.scheduler';

@Module({
  providers: [
    ...feishuProviders,
    { provide: ReconcileRepository, inject: [DataSource], useFactory: (ds: DataSource) => new ReconcileRepository(ds) },
    { provide: AppTicketRepository, inject: [DataSource], useFactory: (ds: DataSource) => new AppTicketRepository(ds) },
    AppTicketSync,
    DirtyListener,
    ReconcileLoop,
    ResyncScheduler,
  ],
  controllers: [FeishuCallbackController],
  exports: [ReconcileLoop, TENANT_TOKENS],
})
export class ReconcileModule implements OnModuleInit {
  private checkedAt = 0;
  private lastCheck: { ok: boolean; detail?: unknown } = { ok: false };

  constructor(
    @Inject(TENANT_TOKENS) private readonly tokens: TenantTokenProvider,
    private readonly readiness: ReadinessRegistry,
  ) {}

  /** Ready when a valid Feishu token can be had (cached a while, so readiness probes cost Feishu nothing). */
  onModuleInit(): void {
    this.readiness.register('feishu', async () => {
      if (this.tokens instanceof StoreAppTokenProvider) {
        return { ok: this.tokens.hasAppTicket(), detail: { appTicket: this.tokens.hasAppTicket() ? 'received' : 'waiting' } };
      }
      if (Date.now() - this.checkedAt < RECONCILE.tokenCheckCacheMs) return this.lastCheck;
      try {
        await this.tokens.getToken('');
        this.lastCheck = { ok: true };
      } catch (e) {
        this.lastCheck = { ok: false, detail: e instanceof Error ? e.message : 'token fetch failed' };
      }
      this.checkedAt = Date.now();
      return this.lastCheck;
    });
  }
}
