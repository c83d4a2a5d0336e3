import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AuditApi } from './audit-api.decorator';
import { NoQuery } from './audit-requests.dto';
import { StatsView } from './audit-responses.dto';
import { AuditStatsService } from './audit-stats.service';

@AuditApi()
@Controller('v1/stats')
export class StatsController {
  constructor(private readonly stats: AuditStatsService) {}

  @Get()
  @ApiOperation({ summary: 'Users per status, backlog, push outcomes of the last hour, consumer lag' })
  @ApiOkResponse({ type: StatsView })
  get(@Query() _q: NoQuery): Promise<StatsView> {
    return this.stats.stats();
  }
}
