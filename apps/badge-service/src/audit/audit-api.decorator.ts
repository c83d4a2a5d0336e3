import { applyDecorators, BadRequestException, createParamDecorator, ExecutionContext, Injectable, PipeTransform, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { AuditScope } from '@badges/config';
import { ApiErrorView } from './audit-responses.dto';
import { AuditThrottlerGuard } from './audit-throttler.guard';
import { AuditRequest, AuditTokenGuard, principalOf, RequireScope } from './audit-token.guard';

/**
 * Validation scoped to the audit API (not global, so it cannot change how another role's endpoints read their
 * input): unknown, mistyped or out-of-range parameters are a 400 listing every reason.
 */
export const auditValidationPipe = () =>
  new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validationError: { target: false, value: false },
  });

/** Bearer token, validation and their documented failures, for every controller under /v1. */
export const AuditApi = () =>
  applyDecorators(
    ApiTags('audit'),
    ApiBearerAuth(),
    // In this order: the throttle counts a token's requests, so the token must be known first.
    UseGuards(AuditTokenGuard, AuditThrottlerGuard),
    UsePipes(auditValidationPipe()),
    ApiUnauthorizedResponse({ type: ApiErrorView, description: 'Missing, malformed or unknown bearer token' }),
    ApiForbiddenResponse({ type: ApiErrorView, description: "The token lacks the route's scope (read for every GET)" }),
    ApiTooManyRequestsResponse({
      type: ApiErrorView,
      description: 'The token went over AUDIT_API_RATE_LIMIT requests per minute',
      headers: { 'Retry-After': { description: 'Seconds until the token may call again', schema: { type: 'integer' } } },
    }),
    ApiBadRequestResponse({ type: ApiErrorView, description: 'Invalid parameters; message lists every reason' }),
  );

/** A route needing a scope other than read; documented on the route. */
export const AuditScoped = (scope: AuditScope) =>
  applyDecorators(RequireScope(scope), ApiForbiddenResponse({ type: ApiErrorView, description: `The token lacks the ${scope} scope` }));

/** The caller's token: name, scopes, tenants (set by AuditTokenGuard). */
export const Principal = createParamDecorator((_data: unknown, ctx: ExecutionContext) => principalOf(ctx.switchToHttp().getRequest<AuditRequest>()));

/** For routes without parameters: class-validator refuses a class without rules, so unknown ones are refused here. */
@Injectable()
export class NoQueryPipe implements PipeTransform {
  transform(value: unknown): unknown {
    const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
    if (keys.length > 0) throw new BadRequestException(keys.map((k) => `property ${k} should not exist`));
    return value;
  }
}
