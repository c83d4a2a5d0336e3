import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiExtraModels, ApiNotFoundResponse, ApiOkResponse, ApiOperation, getSchemaPath } from '@nestjs/swagger';
import { AuditApi, AuditScoped, Principal } from './audit-api.decorator';
import type { AuditPrincipal } from './audit-token.guard';
import { BadgeQuery, HistoryQuery, IdentityQuery, ListByStatusQuery, SourcesQuery, UserParams } from './audit-requests.dto';
import { ApiErrorView, BadgeAtView, BadgeListPageView, BadgeView, HistoryPageView, ResyncAcceptedView, SourcesPageView } from './audit-responses.dto';
import { BadgeAuditService } from './badge-audit.service';

@AuditApi()
@Controller('v1/badges')
export class BadgesController {
  constructor(private readonly audit: BadgeAuditService) {}

  @Get()
  @ApiOperation({ summary: 'Users with a status, in key order, cursor-paginated' })
  @ApiOkResponse({ type: BadgeListPageView })
  list(@Principal() who: AuditPrincipal, @Query() q: ListByStatusQuery): Promise<BadgeListPageView> {
    return this.audit.listByStatus(who, q.status, q.limit, q.cursor);
  }

  @Get(':userId')
  @ApiOperation({
    summary: "A user's badge: desired and applied counts, sources, reconciler state, last error; with ?at=, the badge as it stood then",
  })
  @ApiExtraModels(BadgeView, BadgeAtView)
  @ApiOkResponse({
    description: 'BadgeView; BadgeAtView (per-source counts and their sum at that instant) when `at` is given',
    schema: { oneOf: [{ $ref: getSchemaPath(BadgeView) }, { $ref: getSchemaPath(BadgeAtView) }] },
  })
  @ApiNotFoundResponse({ type: ApiErrorView, description: 'Unknown user, or of a tenant the token may not see' })
  badge(@Principal() who: AuditPrincipal, @Param() p: UserParams, @Query() q: BadgeQuery): Promise<BadgeView | BadgeAtView> {
    const key = { tenantKey: q.tenantKey, userIdType: q.userIdType, userId: p.userId };
    return q.at === undefined ? this.audit.badge(who, key) : this.audit.badgeAt(who, key, q.at);
  }

  @Get(':userId/sources')
  @ApiOperation({ summary: "A user's sources in source order, cursor-paginated" })
  @ApiOkResponse({ type: SourcesPageView })
  @ApiNotFoundResponse({ type: ApiErrorView, description: 'Unknown user, or of a tenant the token may not see' })
  sources(@Principal() who: AuditPrincipal, @Param() p: UserParams, @Query() q: SourcesQuery): Promise<SourcesPageView> {
    return this.audit.sources(who, { tenantKey: q.tenantKey, userIdType: q.userIdType, userId: p.userId }, q.limit, q.cursor);
  }

  @Get(':userId/history')
  @ApiOperation({ summary: "A user's timeline, newest first: source changes, stale and rejected events, pushes (parking included), resyncs" })
  @ApiOkResponse({ type: HistoryPageView })
  @ApiNotFoundResponse({ type: ApiErrorView, description: 'Unknown user, or of a tenant the token may not see' })
  history(@Principal() who: AuditPrincipal, @Param() p: UserParams, @Query() q: HistoryQuery): Promise<HistoryPageView> {
    return this.audit.history(who, { tenantKey: q.tenantKey, userIdType: q.userIdType, userId: p.userId }, q.limit, q.cursor);
  }

  @Post(':userId/resync')
  @AuditScoped('resync')
  @HttpCode(202)
  @ApiOperation({ summary: "Push the user's desired badge now, both sides (also un-parks it); needs the resync scope, recorded with the token's name" })
  @ApiAcceptedResponse({ type: ResyncAcceptedView })
  @ApiNotFoundResponse({ type: ApiErrorView, description: 'Unknown user, or of a tenant the token may not see' })
  resync(@Principal() who: AuditPrincipal, @Param() p: UserParams, @Query() q: IdentityQuery): Promise<ResyncAcceptedView> {
    return this.audit.resync(who, { ...q, userId: p.userId });
  }
}
