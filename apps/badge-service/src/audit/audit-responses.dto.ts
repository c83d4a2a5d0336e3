import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AUDIT_KINDS, type AuditKind, BADGE_STATUSES, type BadgeStatus, USER_ID_TYPES, type UserIdType } from '@badges/store';
import { AUDIT } from './audit.constants';

/*
 * Response shapes, for the OpenAPI document and the compiler; the services build plain objects of these types.
 * The document is OpenAPI 3.1 (http-hardening.ts), so `nullable: true` becomes a JSON Schema union with null
 * (`type: [.., 'null']`, or `anyOf: [{$ref}, {type: 'null'}]` for an object): every answer validates against it
 * (test/audit/openapi-contract.test.ts). The enums are named, one schema each, from the vocabulary.
 */

const userIdType = { enum: USER_ID_TYPES, enumName: 'UserIdType' } as const;
const badgeStatus = { enum: BADGE_STATUSES, enumName: 'BadgeStatus' } as const;
const auditKind = { enum: AUDIT_KINDS, enumName: 'AuditKind' } as const;
const count = { type: 'integer', minimum: 0 } as const;

export class SideCountsView {
  @ApiProperty(count) web_app!: number;
  @ApiProperty(count) gadget!: number;
}

export class CountsView {
  @ApiProperty({ type: SideCountsView }) pc!: SideCountsView;
  @ApiProperty({ type: SideCountsView }) mobile!: SideCountsView;
}

/** A push's payload: only the sides it sent. */
export class SentCountsView {
  @ApiPropertyOptional({ type: SideCountsView }) pc?: SideCountsView;
  @ApiPropertyOptional({ type: SideCountsView }) mobile?: SideCountsView;
}

export class AppliedCountsView {
  @ApiProperty({ type: SideCountsView, nullable: true, description: 'null while unknown (never accepted by Feishu)' })
  pc!: SideCountsView | null;
  @ApiProperty({ type: SideCountsView, nullable: true, description: 'null while unknown (never accepted by Feishu)' })
  mobile!: SideCountsView | null;
}

export class LastErrorView {
  @ApiProperty({ type: 'integer', nullable: true, description: 'Feishu code, when Feishu answered with one' }) code!: number | null;
  @ApiProperty({ type: String, nullable: true }) message!: string | null;
  @ApiProperty({ type: String, nullable: true, description: "Feishu's log id, for its support" }) logId!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) at!: string | null;
}

export class SourceView {
  @ApiProperty() source!: string;
  @ApiProperty({ type: CountsView, description: "The source's latest absolute counts" }) counts!: CountsView;
  @ApiProperty({ type: 'integer', minimum: 0 }) sequence!: number;
  @ApiProperty() eventId!: string;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class BadgeView {
  @ApiProperty() userId!: string;
  @ApiProperty(userIdType) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty({ type: CountsView, description: 'Sum over sources: what the user should see' }) desired!: CountsView;
  @ApiProperty({ type: AppliedCountsView, description: 'What Feishu last accepted' }) applied!: AppliedCountsView;
  @ApiProperty({ description: 'Every desired change has been pushed and accepted' }) inSync!: boolean;
  @ApiProperty({ description: 'desired equals applied on both sides (whatever the reconciler is doing)' })
  appliedEqualsDesired!: boolean;
  @ApiProperty(badgeStatus) status!: BadgeStatus;
  @ApiProperty({ format: 'date-time' }) nextAttemptAt!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) attempts!: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) desiredRevision!: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) pushedRevision!: number;
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
  @ApiProperty({ ...auditKind, description: 'change, stale or rejected event; push attempt; resync (operator or drift repair)' })
  kind!: AuditKind;
  @ApiPropertyOptional() source?: string;
  @ApiPropertyOptional({ type: 'integer', minimum: 0 }) sequence?: number;
  @ApiPropertyOptional() eventId?: string;
  @ApiPropertyOptional({ type: CountsView, description: "change: the source's counts before" }) old?: unknown;
  @ApiPropertyOptional({ type: SentCountsView, description: "change: the source's counts after; push: the payload sent (sides pushed only)" })
  new?: unknown;
  @ApiPropertyOptional({ description: 'push: the version sent (decimal string)' }) version?: string;
  @ApiPropertyOptional({ description: 'push: applied, version_conflict, concurrent, transient, rate_limited, ...' }) outcome?: string;
  @ApiPropertyOptional({ type: 'integer', description: "push: Feishu's code" }) code?: number;
  @ApiPropertyOptional({ type: 'integer' }) httpStatus?: number;
  @ApiPropertyOptional({ type: 'integer', minimum: 0 }) latencyMs?: number;
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
  @ApiProperty(userIdType) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty(badgeStatus) status!: BadgeStatus;
  @ApiProperty({ format: 'date-time' }) desiredChangedAt!: string;
  @ApiProperty({ format: 'date-time' }) nextAttemptAt!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) attempts!: number;
  @ApiProperty({ type: LastErrorView, nullable: true }) lastError!: LastErrorView | null;
}

export class BadgeListPageView {
  @ApiProperty({ type: [BadgeListItemView], description: 'In (tenantKey, userIdType, userId) order' }) items!: BadgeListItemView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

/** One count per BadgeStatus (the compiler holds the two together), and their total. */
export class UsersByStatusView implements Record<BadgeStatus, number> {
  @ApiProperty(count) pending!: number;
  @ApiProperty(count) in_sync!: number;
  @ApiProperty(count) backing_off!: number;
  @ApiProperty(count) parked!: number;
  @ApiProperty(count) total!: number;
}

export class PushesView {
  @ApiProperty({ type: 'object', additionalProperties: count, example: { applied: 120, version_conflict: 2 } })
  byOutcome!: Record<string, number>;
  @ApiProperty({
    type: 'object',
    additionalProperties: count,
    description: 'Attempts that carried a Feishu code, by code',
    example: { '0': 120, '213001': 2 },
  })
  byCode!: Record<string, number>;
}

export class ConsumerLagView {
  @ApiProperty({ type: 'object', additionalProperties: count, description: 'Messages behind, by partition' })
  partitions!: Record<string, number>;
  @ApiProperty(count) total!: number;
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
  @ApiProperty({ ...count, description: 'Users whose desired badge is not yet at Feishu (parked ones excluded: see users.parked)' })
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
  @ApiProperty(userIdType) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) desiredRevision!: number;
  @ApiProperty(badgeStatus) status!: BadgeStatus;
}

export class SourceRetiredView {
  @ApiProperty() source!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The tenant it was retired from; null for every tenant' }) tenantKey!: string | null;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Users that held the source: its share is gone from each' }) users!: number;
  @ApiProperty({ type: 'integer', minimum: 0, description: 'Of those, users whose desired badge changed: each is pushed at bulk priority' })
  usersChanged!: number;
  @ApiProperty({ description: "The token's name, also in each user's history" }) retiredBy!: string;
}

export class ApiErrorView {
  @ApiProperty({ type: 'integer' }) statusCode!: number;
  @ApiProperty() error!: string;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'Reasons (a list for 400)' })
  message!: string | string[];
  @ApiProperty({ description: 'Also in the x-request-id response header; quote it when reporting a problem' })
  correlationId!: string;
}

export class SourceAtView {
  @ApiProperty() source!: string;
  @ApiProperty({ type: CountsView, description: "The source's counts at that instant" }) counts!: CountsView;
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    nullable: true,
    description: 'Sequence of the change that set them; null when only a later change recorded them (as the counts it replaced)',
  })
  sequence!: number | null;
  @ApiProperty({ type: String, nullable: true }) eventId!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When that change was stored' }) changedAt!: string | null;
}

export class BadgeAtView {
  @ApiProperty() userId!: string;
  @ApiProperty(userIdType) userIdType!: UserIdType;
  @ApiProperty() tenantKey!: string;
  @ApiProperty({ format: 'date-time', description: 'The instant asked for' }) at!: string;
  @ApiProperty({ type: CountsView, description: 'Sum over the sources of their counts then: the desired badge at that instant' }) desired!: CountsView;
  @ApiProperty({ type: [SourceAtView], description: 'Sources stored at that instant, in source order' }) sources!: SourceAtView[];
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'The audit trail is complete from here (older days are dropped by retention); null before its first day partition exists',
  })
  historyKeptSince!: string | null;
}

export class EventToAppliedView {
  @ApiProperty({ ...count, description: 'Applied pushes measured in the minute' }) count!: number;
  @ApiProperty({ ...count, description: 'Median, rounded to the millisecond' }) p50Ms!: number;
  @ApiProperty({ ...count, description: '95th percentile, rounded to the millisecond' }) p95Ms!: number;
  @ApiProperty(count) maxMs!: number;
}

export class SeriesBucketView {
  @ApiProperty({ format: 'date-time', description: 'Start of the minute' }) at!: string;
  @ApiProperty({ type: 'object', additionalProperties: count, description: 'Push attempts by outcome', example: { applied: 12, transient: 1 } })
  pushes!: Record<string, number>;
  @ApiProperty({ type: EventToAppliedView, nullable: true, description: 'From the desired change being stored to Feishu accepting it; null without applied pushes' })
  eventToApplied!: EventToAppliedView | null;
}

export class SeriesView {
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'Width of each bucket' }) bucketSeconds!: number;
  @ApiProperty({ type: [String], description: 'Outcomes seen in the window' }) outcomes!: string[];
  @ApiProperty({ type: [SeriesBucketView], description: 'Every minute of the window, oldest first' }) buckets!: SeriesBucketView[];
}
