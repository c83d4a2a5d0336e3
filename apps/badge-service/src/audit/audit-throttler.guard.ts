import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerModuleOptions } from '@nestjs/throttler';
import { AppConfig } from '@badges/config';
import { AuditRequest, principalOf } from './audit-token.guard';

/**
 * Each token has its own budget of AUDIT_API_RATE_LIMIT requests per minute over all of /v1 (the key is the
 * token's name, not the route), kept in this replica's memory: N replicas behind a balancer allow up to N times it.
 * It runs after AuditTokenGuard, so it never counts a request without a valid token.
 */
@Injectable()
export class AuditThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return principalOf(req as unknown as AuditRequest).name;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `${throttler}:${tracker}`;
  }
}

export function auditThrottlerOptions(config: AppConfig): ThrottlerModuleOptions {
  const limit = config.audit.rateLimitPerMinute;
  return {
    throttlers: [{ ttl: 60_000, limit: Math.max(1, limit) }],
    skipIf: () => limit === 0,
    errorMessage: `rate limit: ${limit} requests per minute per token (AUDIT_API_RATE_LIMIT); retry after the Retry-After header`,
  };
}
