import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BADGE_STATUSES, type BadgeStatus } from '@badges/store';
import { AUDIT, type UserIdType } from './audit.constants';

/* Response shapes, for the OpenAPI document and the compiler; the services build plain objects of these types. */

export class SideCountsView {
  @ApiProperty() web_app!: number;
  @ApiProperty() gadget!: number;
}

export class CountsView {
  @ApiProperty({ type: SideCountsView }) pc!: SideCountsView;
  @ApiProperty({ type: SideCountsView }) mobile!: SideCountsView;
}

export class AppliedCountsView {
  @ApiProperty({ type: SideCountsView, nullable: true, description: 'null while unknown (never accepted by Feishu)' })
  pc!: SideCountsView | null;
  @ApiProperty({ type: SideCountsView, nullable: true, description: 'null while unknown (never accepted by Feishu)' })
  mobile!: SideCountsView | null;
}

export class LastErrorView {
  @ApiProperty({ type: Number, nullable: true, description: 'Feishu code, when Feishu answered with one' }) code!: number | null;
  @ApiProperty({ type: String, nullable: true }) message!: string | null;
  @ApiProperty({ type: String, nullable: true, description: "Feishu's log id, for its support" }) logId!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) at!: string | null;
}

export class SourceView {
  @ApiProperty() source!: string;
  @ApiProperty({ type: CountsView, description: "The source's latest absolute counts" }) counts!: CountsView;
  @ApiProperty() sequence!: number;
  @ApiProperty() eventId!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class BadgeView {
  @ApiProperty() userId!: string;
  @ApiProperty({ enum: AUDIT.userIdTypes }) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty({ type: CountsView, description: 'Sum over sources: what the user should see' }) desired!: CountsView;
  @ApiProperty({ type: AppliedCountsView, description: 'What Feishu last accepted' }) applied!: AppliedCountsView;
  @ApiProperty({ description: 'Every desired change has been pushed and accepted' }) inSync!: boolean;
  @ApiProperty({ description: 'desired equals applied on both sides (whatever the reconciler is doing)' })
  appliedEqualsDesired!: boolean;
  @ApiProperty({ enum: BADGE_STATUSES }) status!: BadgeStatus;
  @ApiProperty({ format: 'date-time' }) nextAttemptAt!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty() desiredRevision!: number;
  @ApiProperty() pushedRevision!: number;
  @ApiProperty({ description: 'Last version sent to Feishu (a decimal string; 0 if never)' }) lastVersion!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastPushedAt!: string | null;
  @ApiProperty({ format: 'date-time' }) desiredChangedAt!: string;
  @ApiProperty({ type: [SourceView], description: `The first ${AUDIT.badgeSources} sources, in source order` }) sources!: SourceView[];
  @ApiProperty({ type: String, nullable: true, description: 'More sources: pass as cursor to GET /v1/badges/{userId}/sources; null when all are shown' })
  sourcesNextCursor!: string | null;
  @ApiProperty({ type: LastErrorView, nullable: true }) lastError!: LastErrorView | null;
}

export class SourcesPageView {
  @ApiProperty({ type: [SourceView], description: 'In source order' }) items!: SourceView[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page; null on the last page' })
  nextCursor!: string | null;
}

export class HistoryItemView {
  @ApiProperty({ format: 'date-time', description: 'UTC, microsecond precision' }) at!: string;
  @ApiProperty({ enum: ['change', 'stale', 'push', 'resync', 'park'] }) kind!: string;
  @ApiPropertyOptional() source?: string;
  @ApiPropertyOptional() sequence?: number;
  @ApiPropertyOptional() eventId?: string;
  @ApiPropertyOptional({ type: CountsView, description: "change: the source's counts before" }) old?: unknown;
  @ApiPropertyOptional({ type: CountsView, description: "change: the source's counts after; push: the payload sent (sides pushed only)" })
  new?: unknown;
  @ApiPropertyOptional({ description: 'push: the version sent (decimal string)' }) version?: string;
  @ApiPropertyOptional({ description: 'push: applied, version_conflict, concurrent, transient, rate_limited, ...' }) outcome?: string;
  @ApiPropertyOptional({ description: "push: Feishu's code" }) code?: number;
  @ApiPropertyOptional() httpStatus?: number;
  @ApiPropertyOptional() latencyMs?: number;
  @ApiPropertyOptional() logId?: string;
  @ApiPropertyOptional() detail?: string;
}

export class HistoryPageView {
  @ApiProperty({ type: [HistoryItemView], description: 'Newest first' }) items!: HistoryItemView[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as cursor for the next page; null on the last page' })
  nextCursor!: string | null;
}

export class BadgeListItemView {
  @ApiProperty() userId!: string;
  @ApiProperty({ enum: AUDIT.userIdTypes }) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty({ enum: BADGE_STATUSES }) status!: BadgeStatus;
  @ApiProperty({ format: 'date-time' }) desiredChangedAt!: string;
  @ApiProperty({ format: 'date-time' }) nextAttemptAt!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: LastErrorView, nullable: true }) lastError!: LastErrorView | null;
}

export class BadgeListPageView {
  @ApiProperty({ type: [BadgeListItemView], description: 'In (tenantKey, userIdType, userId) order' }) items!: BadgeListItemView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class UsersByStatusView {
  @ApiProperty() pending!: number;
  @ApiProperty() in_sync!: number;
  @ApiProperty() backing_off!: number;
  @ApiProperty() parked!: number;
  @ApiProperty() total!: number;
}

export class PushesView {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { applied: 120, version_conflict: 2 } })
  byOutcome!: Record<string, number>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'Attempts that carried a Feishu code, by code',
    example: { '0': 120, '213001': 2 },
  })
  byCode!: Record<string, number>;
}

export class ConsumerLagView {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'Messages behind, by partition' })
  partitions!: Record<string, number>;
  @ApiProperty() total!: number;
  @ApiProperty({ format: 'date-time' }) measuredAt!: string;
}

export class AppTicketView {
  @ApiProperty({ description: 'An app_ticket has arrived at the event callback (without one no tenant token can be had)' })
  received!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the current one was stored' })
  receivedAt!: string | null;
}

export class ShadowRateView {
  @ApiProperty({ description: 'Would-be pushes recorded in the last hour' }) pushesLastHour!: number;
  @ApiProperty({ description: 'Their average rate over the hour, per second' }) averagePerSecond!: number;
  @ApiProperty({ description: 'The rate of the busiest minute of the hour, per second: the quota the workload would need' })
  busiestMinutePerSecond!: number;
}

export class ModeView {
  @ApiProperty({ enum: ['live', 'shadow'], description: 'FEISHU_MODE as the database holds it: every replica claims only in it' })
  feishu!: 'live' | 'shadow';
  @ApiProperty({ description: 'When the deployment entered it' }) since!: string;
  @ApiProperty({ type: ShadowRateView, nullable: true, description: 'Shadow mode: the push rate the workload would need; null when live' })
  shadow!: ShadowRateView | null;
}

export class StatsView {
  @ApiProperty({ type: ModeView }) mode!: ModeView;
  @ApiProperty({ type: UsersByStatusView }) users!: UsersByStatusView;
  @ApiProperty({ description: 'Users whose desired badge is not yet at Feishu (parked ones excluded: see users.parked)' })
  dirty!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Age of the oldest desired change not yet at Feishu' })
  oldestPendingAgeSeconds!: number | null;
  @ApiProperty({ type: PushesView, description: 'Push attempts in the last hour' }) pushesLastHour!: PushesView;
  @ApiProperty({
    type: ConsumerLagView,
    nullable: true,
    description: 'null when this process does not run ingest or has not measured yet, and for a token restricted to some tenants',
  })
  consumerLag!: ConsumerLagView | null;
  @ApiProperty({ type: AppTicketView, nullable: true, description: 'Store apps: the app_ticket from the event callback; null for a custom app' })
  appTicket!: AppTicketView | null;
}

export class ResyncAcceptedView {
  @ApiProperty() userId!: string;
  @ApiProperty({ enum: AUDIT.userIdTypes }) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty() desiredRevision!: number;
  @ApiProperty({ enum: BADGE_STATUSES }) status!: BadgeStatus;
}

export class ApiErrorView {
  @ApiProperty() statusCode!: number;
  @ApiProperty() error!: string;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'Reasons (a list for 400)' })
  message!: string | string[];
  @ApiProperty({ description: 'Also in the x-request-id response header; quote it when reporting a problem' })
  correlationId!: string;
}
