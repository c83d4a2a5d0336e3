import { Controller, Delete, ForbiddenException, Param, Query } from '@nestjs/common';
import { ApiForbiddenResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { IngestRepository } from '@badges/store';
import { AuditApi, AuditScoped, Principal } from './audit-api.decorator';
import type { AuditPrincipal } from './audit-token.guard';
import { RetireSourceQuery, SourceParams } from './audit-requests.dto';
import { ApiErrorView, SourceRetiredView } from './audit-responses.dto';

@AuditApi()
@Controller('v1/sources')
export class SourcesController {
  constructor(private readonly ingest: IngestRepository) {}

  /**
   * A decommissioned upstream: its share leaves every user's badge, the users whose badge changes are pushed at
   * bulk priority (live changes go first), and each user's history records a change of that source to nothing,
   * naming the token. Idempotent: calling it again (say after an interruption) finishes the job.
   */
  @Delete(':source')
  @AuditScoped('resync')
  @ApiOperation({ summary: "Retire a source: remove its counts from every user (of one tenant with tenantKey) and push the changed badges at bulk priority; needs the resync scope" })
  @ApiOkResponse({ type: SourceRetiredView })
  @ApiForbiddenResponse({ type: ApiErrorView, description: 'No resync scope, or a token restricted to tenants that names none of its own' })
  async retire(@Principal() who: AuditPrincipal, @Param() p: SourceParams, @Query() q: RetireSourceQuery): Promise<SourceRetiredView> {
    const tenantKey = q.tenantKey ?? null;
    if (who.tenants !== null && (tenantKey === null || !who.tenants.has(tenantKey))) {
      throw new ForbiddenException('a token restricted to some tenants retires a source from one of them only: name it with tenantKey');
    }
    const r = await this.ingest.retireSource(p.source, tenantKey, `source ${p.source} retired by ${who.name}`);
    return { source: p.source, tenantKey, users: r.users, usersChanged: r.usersChanged, retiredBy: who.name };
  }
}
