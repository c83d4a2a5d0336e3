import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuditApi, NoQueryPipe, Principal } from './audit-api.decorator';
import type { AuditPrincipal } from './audit-token.guard';
import { SeriesView, StatsView } from './audit-responses.dto';
import { SeriesQuery } from './audit-requests.dto';
import { AuditSeriesService } from './audit-series.service';
import { AuditStatsService } from './audit-stats.service';

@AuditApi()
@Controller('v1/stats')
export class StatsController {
  constructor(
    private readonly stats: AuditStatsService,
    private readonly seriesOf: AuditSeriesService,
  ) {}

  @Get()
  @ApiOperation({ summary: "Users per status, backlog, push outcomes of the last hour, consumer lag, app_ticket; of the token's tenants" })
  @ApiOkResponse({ type: StatsView })
  get(@Principal() who: AuditPrincipal, @Query(NoQueryPipe) _query: Record<string, unknown>): Promise<StatsView> {
    return this.stats.stats(who);
  }

  @Get('series')
  @ApiOperation({ summary: "Per minute over recent hours: push attempts by outcome, event→applied latency; of the token's tenants" })
  @ApiOkResponse({ type: SeriesView })
  series(@Principal() who: AuditPrincipal, @Query() q: SeriesQuery): Promise<SeriesView> {
    return this.seriesOf.series(who, q.hours);
  }
}
