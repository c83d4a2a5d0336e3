import { applyDecorators, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
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
