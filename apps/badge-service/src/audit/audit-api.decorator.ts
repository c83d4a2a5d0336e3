import { applyDecorators, BadRequestException, Injectable, PipeTransform, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ApiErrorView } from './audit-responses.dto';
import { AuditTokenGuard } from './audit-token.guard';

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
    UseGuards(AuditTokenGuard),
    UsePipes(auditValidationPipe()),
    ApiUnauthorizedResponse({ type: ApiErrorView, description: 'Missing, malformed or unknown bearer token' }),
    ApiBadRequestResponse({ type: ApiErrorView, description: 'Invalid parameters; message lists every reason' }),
  );

/** For routes without parameters: class-validator refuses a class without rules, so unknown ones are refused here. */
@Injectable()
export class NoQueryPipe implements PipeTransform {
  transform(value: unknown): unknown {
    const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
    if (keys.length > 0) throw new BadRequestException(keys.map((k) => `property ${k} should not exist`));
    return value;
  }
}
