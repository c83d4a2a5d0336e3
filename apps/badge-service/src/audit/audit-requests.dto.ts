import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BADGE_STATUSES, type BadgeStatus, USER_ID_TYPES, type UserIdType } from '@badges/store';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateBy, ValidationOptions } from 'class-validator';
import { SOURCE_PATTERN } from '@badges/contracts';
import { decodeHistoryCursor, decodeSourcesCursor, decodeStatusCursor } from './audit-cursor';
import { AUDIT } from './audit.constants';

const INVALID_CURSOR = 'invalid cursor';

/** `limit` of every paginated list: an integer 1..maxPageSize from the query string. */
function PageLimit(): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: AUDIT.maxPageSize, default: AUDIT.defaultPageSize }),
    IsOptional(),
    Type(() => Number),
    IsInt(),
    Min(1),
    Max(AUDIT.maxPageSize),
  );
}

function IsHistoryCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    { name: 'isHistoryCursor', validator: { validate: (v) => decodeHistoryCursor(v) !== null, defaultMessage: () => INVALID_CURSOR } },
    options,
  );
}

function IsSourcesCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    { name: 'isSourcesCursor', validator: { validate: (v) => decodeSourcesCursor(v) !== null, defaultMessage: () => INVALID_CURSOR } },
    options,
  );
}

/** Valid only with the status it was issued for. */
function IsStatusCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStatusCursor',
      validator: {
        validate: (v, args) => decodeStatusCursor(v, (args?.object as { status: BadgeStatus }).status) !== null,
        defaultMessage: () => INVALID_CURSOR,
      },
    },
    options,
  );
}

export class UserParams {
  @ApiProperty({ description: "The user's id in Feishu, of the type given by userIdType", minLength: 1, maxLength: AUDIT.maxIdLength })
  @IsString()
  @Length(1, AUDIT.maxIdLength)
  userId!: string;
}

export class SourceParams {
  @ApiProperty({ description: 'The source to retire, as events name it', pattern: SOURCE_PATTERN.source })
  @IsString()
  @Matches(SOURCE_PATTERN, { message: `source must match ${SOURCE_PATTERN}` })
  source!: string;
}

export class RetireSourceQuery {
  @ApiPropertyOptional({ description: 'Retire it from this tenant only (store apps); required for a token restricted to some tenants', maxLength: AUDIT.maxIdLength })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT.maxIdLength)
  tenantKey?: string;
}

export class IdentityQuery {
  @ApiPropertyOptional({ description: 'Tenant of a store app; empty for a custom app', default: '', maxLength: AUDIT.maxIdLength })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT.maxIdLength)
  tenantKey: string = '';

  @ApiPropertyOptional({ enum: USER_ID_TYPES, default: 'open_id' })
  @IsOptional()
  @IsIn(USER_ID_TYPES)
  userIdType: UserIdType = 'open_id';
}

export class HistoryQuery extends IdentityQuery {
  @PageLimit()
  limit: number = AUDIT.defaultPageSize;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @IsHistoryCursor()
  cursor?: string;
}

export class SourcesQuery extends IdentityQuery {
  @PageLimit()
  limit: number = AUDIT.defaultPageSize;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page (or sourcesNextCursor of the badge)' })
  @IsOptional()
  @IsString()
  @IsSourcesCursor()
  cursor?: string;
}

export class ListByStatusQuery {
  @ApiProperty({ enum: BADGE_STATUSES })
  @IsIn(BADGE_STATUSES)
  status!: BadgeStatus;

  @PageLimit()
  limit: number = AUDIT.defaultPageSize;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page (of the same status)' })
  @IsOptional()
  @IsString()
  @IsStatusCursor()
  cursor?: string;
}

const AT_FORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
export const AT_MESSAGE = 'at must be an ISO-8601 date-time with a time zone, e.g. 2026-11-24T08:00:00.000Z';

/** A real instant (no 24:00, no 30 February), with its zone, to the microsecond as the audit trail keeps it. */
export function isAuditInstant(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 40) return false;
  const m = AT_FORMAT.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, s, oh, om] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (y < 1970 || mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59) return false;
  return new Date(Date.UTC(y, mo - 1, d)).getUTCDate() === d && Number.isFinite(Date.parse(v));
}

export class BadgeQuery extends IdentityQuery {
  @ApiPropertyOptional({
    description: 'The badge as it stood at this instant (ISO-8601 with a zone): per-source counts and their sum, from the audit trail',
    format: 'date-time',
    example: '2026-11-24T08:00:00.000Z',
  })
  @IsOptional()
  @ValidateBy({ name: 'isAuditInstant', validator: { validate: isAuditInstant, defaultMessage: () => AT_MESSAGE } })
  at?: string;
}

export class SeriesQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: AUDIT.seriesMaxHours, default: AUDIT.seriesDefaultHours, description: 'Hours back from now' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT.seriesMaxHours)
  hours: number = AUDIT.seriesDefaultHours;
}
