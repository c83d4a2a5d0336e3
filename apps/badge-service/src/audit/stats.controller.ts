import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuditApi, NoQueryPipe } from './audit-api.decorator';
import { StatsView } from './audit-responses.dto';
import { AuditStatsService } from './audit-stats.service';

@AuditApi()
@Controller('v1/stats')
export class StatsController {
  constructor(private readonly stats: AuditStatsService) {}

  @Get()
  @ApiOperation({ summary: 'Users per status, backlog, push outcomes of the last hour, consumer lag' })
  @ApiOkResponse({ type: StatsView })
  get(@Query(NoQueryPipe) _query: Record<string, unknown>): Promise<StatsView> {
    return this.stats.stats();
  }
}
