import { Inject, Injectable, Optional } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { AuditRepository, Overview } from '@badges/store';
import { FreshCoalescer } from '../common/fresh-coalescer';
import { AUDIT } from './audit.constants';
import { AppTicketView, ConsumerLagView, ModeView, PushesView, StatsView } from './audit-responses.dto';
import type { AuditPrincipal } from './audit-token.guard';
import { tenantScopeKey, tenantsOf } from './badge-audit.service';
import { CONSUMER_LAG, ConsumerLagSource } from './consumer-lag';

/** Deployment-wide totals for operators; each figure comes from an index, none from a scan of the audit trail. */
@Injectable()
export class AuditStatsService {
  private readonly feishu: AppConfig['feishu'];
  /**
   * Dashboards poll /v1/stats from many tabs at once: concurrent requests for the same tenants share one overview
   * read, each still read after it arrived (bench/audit.bench.mjs, stats at 50 clients).
   */
  private readonly overviews = new FreshCoalescer<Overview>(AUDIT.sharedReadDeadlineMs);

  constructor(
    private readonly repository: AuditRepository,
    config: ConfigService<AppConfig, true>,
    @Optional() @Inject(CONSUMER_LAG) private readonly lag?: ConsumerLagSource,
  ) {
    this.feishu = config.get('feishu', { infer: true });
  }

  /** Totals of the tenants the token may see; consumer lag (all tenants mixed) only for a token that sees them all. */
  async stats(principal: AuditPrincipal): Promise<StatsView> {
    const tenants = tenantsOf(principal);
    // One statement for the database's figures (bench/audit.bench.mjs: each further round trip cost throughput).
    const [{ users, dirty, pushes, mode: stored }, appTicket] = await Promise.all([
      this.overviews.get(tenantScopeKey(tenants), () => this.repository.overview(AUDIT.pushWindowSeconds, tenants)),
      this.appTicket(),
    ]);
    const mode = await this.mode(stored, tenants);
    const pushesLastHour: PushesView = { byOutcome: {}, byCode: {} };
    for (const p of pushes) {
      const outcome = p.outcome ?? 'unknown';
      pushesLastHour.byOutcome[outcome] = (pushesLastHour.byOutcome[outcome] ?? 0) + p.n;
      if (p.code !== null) pushesLastHour.byCode[String(p.code)] = (pushesLastHour.byCode[String(p.code)] ?? 0) + p.n;
    }
    return {
      mode,
      users,
      dirty: dirty.dirty,
      oldestPendingAgeSeconds: dirty.oldestAgeSeconds === null ? null : Math.max(0, Math.round(dirty.oldestAgeSeconds * 1000) / 1000),
      pushesLastHour,
      consumerLag: tenants === null ? this.consumerLag() : null,
      appTicket,
    };
  }

  private async mode({ mode, since }: { mode: 'live' | 'shadow'; since: Date }, tenants: readonly string[] | null): Promise<ModeView> {
    if (mode === 'live') return { feishu: mode, since: since.toISOString(), shadow: null };
    const window = AUDIT.pushWindowSeconds;
    const { n, busiestMinute } = await this.repository.shadowPushes(window, tenants);
    const perSecond = (x: number) => Math.round(x * 1000) / 1000;
    return { feishu: mode, since: since.toISOString(), shadow: { pushesLastHour: n, averagePerSecond: perSecond(n / window), busiestMinutePerSecond: perSecond(busiestMinute / 60) } };
  }

  /** Store apps: a missing app_ticket stops every push, yet is no readiness failure (the callback must stay routable). */
  private async appTicket(): Promise<AppTicketView | null> {
    if (this.feishu.appType !== 'store') return null;
    const at = await this.repository.appTicketReceivedAt(this.feishu.appId);
    return { received: at !== null, receivedAt: at === null ? null : at.toISOString() };
  }

  private consumerLag(): ConsumerLagView | null {
    if (!this.lag) return null;
    const { lag, lagMeasuredAt } = this.lag.status();
    if (lagMeasuredAt === null) return null;
    const partitions = { ...lag };
    const total = Object.values(partitions).reduce((n, x) => n + x, 0);
    return { partitions, total, measuredAt: new Date(lagMeasuredAt).toISOString() };
  }
}
