import { DynamicModule, Inject, Module, OnModuleInit, Provider, Type } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { StoreAppTokenProvider, TenantTokenProvider } from '@badges/feishu';
import { ReadinessRegistry } from '../health/readiness.registry';
import { AppTicketSync } from './app-ticket.sync';
import { DirtyListener } from './dirty.listener';
import { FeishuCallbackController } from './feishu-callback.controller';
import { FeishuCallbackServer } from './feishu-callback.server';
import { FeishuCallbackService } from './feishu-callback.service';
import { feishuProviders, TENANT_TOKENS } from './feishu.providers';
import { RECONCILE } from './reconcile.constants';
import { ReconcileLoop } from './reconcile.loop';
import { ResyncScheduler } from './resync.scheduler';

@Module({})
export class ReconcileModule implements OnModuleInit {
  /** Store apps get the event callback: on HTTP_PORT, or on FEISHU_CALLBACK_PORT alone. A custom app has none (404). */
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      ...feishuProviders,
      AppTicketSync,
      DirtyListener,
      ReconcileLoop,
      ResyncScheduler,
    ];
    const controllers: Type[] = [];
    if (config.feishu.appType === 'store') {
      providers.push(FeishuCallbackService);
      if (config.feishu.callbackPort === undefined) controllers.push(FeishuCallbackController);
      else providers.push(FeishuCallbackServer);
    }
    return { module: ReconcileModule, providers, controllers, exports: [ReconcileLoop, TENANT_TOKENS] };
  }

  private checkedAt = 0;
  private lastCheck: { ok: boolean; detail?: unknown } = { ok: false };

  constructor(
    @Inject(TENANT_TOKENS) private readonly tokens: TenantTokenProvider,
    private readonly readiness: ReadinessRegistry,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  /**
   * Ready when a valid Feishu token can be had (cached a while, so readiness probes cost Feishu nothing). A store
   * app waiting for its app_ticket stays ready: the ticket arrives at this process's callback, which a balancer
   * stops routing to an unready replica. The wait shows in /v1/stats and badge_feishu_app_ticket_received.
   */
  onModuleInit(): void {
    this.readiness.register('feishu', async () => {
      // Shadow mode asks Feishu for nothing, readiness included.
      if (this.config.get('feishu', { infer: true }).mode === 'shadow') return { ok: true, detail: { mode: 'shadow' } };
      if (this.tokens instanceof StoreAppTokenProvider) {
        return { ok: true, detail: { appTicket: this.tokens.hasAppTicket() ? 'received' : 'waiting' } };
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
