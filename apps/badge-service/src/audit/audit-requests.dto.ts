import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BADGE_STATUSES, type BadgeStatus, USER_ID_TYPES, type UserIdType } from '@badges/store';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, MaxLength, Min, ValidateBy, ValidationOptions } from 'class-validator';
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
