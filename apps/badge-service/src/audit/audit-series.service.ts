import { Injectable } from '@nestjs/common';
import { AuditLookbackRepository } from '@badges/store';
import { FreshCoalescer } from '../common/fresh-coalescer';
import { AUDIT } from './audit.constants';
import { SeriesBucketView, SeriesView } from './audit-responses.dto';
import type { AuditPrincipal } from './audit-token.guard';
import { tenantScopeKey, tenantsOf } from './badge-audit.service';

const MINUTE_MS = 60_000;

/** The health charts' figures, from the partial index badge_audit_series (push rows of the window only). */
@Injectable()
export class AuditSeriesService {
  /** Open health pages poll this from many tabs: concurrent equal requests share a read, each read after it arrived. */
  private readonly reads = new FreshCoalescer<SeriesView>(AUDIT.sharedReadDeadlineMs);

  constructor(private readonly lookback: AuditLookbackRepository) {}

  /** Every minute of the last `hours` (database clock), oldest first: push attempts by outcome, event→applied latency. */
  series(principal: AuditPrincipal, hours: number): Promise<SeriesView> {
    const tenants = tenantsOf(principal);
    return this.reads.get(`${hours}h ${tenantScopeKey(tenants)}`, () => this.read(tenants, hours));
  }

  private async read(tenants: string[] | null, hours: number): Promise<SeriesView> {
    const { fromMs, toMs } = await this.lookback.seriesWindow(hours * 60);
    const rows = await this.lookback.pushSeries(fromMs, toMs, tenants);
    const buckets: SeriesBucketView[] = [];
    for (let t = fromMs; t < toMs; t += MINUTE_MS) buckets.push({ at: new Date(t).toISOString(), pushes: {}, eventToApplied: null });
    const outcomes = new Set<string>();
    for (const r of rows) {
      const b = buckets[Math.round((r.minute_ms - fromMs) / MINUTE_MS)];
      if (!b) continue;
      const outcome = r.outcome ?? 'unknown';
      outcomes.add(outcome);
      b.pushes[outcome] = (b.pushes[outcome] ?? 0) + r.n;
      if (r.lag_n > 0) {
        b.eventToApplied = { count: r.lag_n, p50Ms: Math.round(r.lag_p50_ms ?? 0), p95Ms: Math.round(r.lag_p95_ms ?? 0), maxMs: r.lag_max_ms ?? 0 };
      }
    }
    return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), bucketSeconds: 60, outcomes: [...outcomes].sort(), buckets };
  }
}
