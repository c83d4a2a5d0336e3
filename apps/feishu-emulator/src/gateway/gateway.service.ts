import { Injectable } from '@nestjs/common';
import { FeishuError } from '../common/feishu.error';
import { CODES, HEADERS, HTTP_REASONS, MESSAGES, type RateLimitedApi } from '../emulator.constants';
import { FaultInjector } from '../faults/fault-injector.service';
import { RateLimiter } from './rate-limiter.service';

export function rateLimitedError(limit: number, resetSeconds: number): FeishuError {
  return new FeishuError(429, CODES.rateLimited, MESSAGES.rateLimited, {
    headers: { [HEADERS.rateLimitLimit]: String(limit), [HEADERS.rateLimitReset]: String(resetSeconds) },
  });
}

/** What Feishu's gateway does before an API sees a request: outages and rate limits. */
@Injectable()
export class GatewayService {
  constructor(
    private readonly faults: FaultInjector,
    private readonly limiter: RateLimiter,
  ) {}

  checkOutage(): void {
    if (this.faults.inOutage()) throw new FeishuError(503, 503, HTTP_REASONS[503]);
  }

  checkRateLimit(api: RateLimitedApi, appId: string, tenantKey: string): void {
    const decision = this.limiter.take(api, appId, tenantKey);
    if (!decision.allowed) throw rateLimitedError(decision.limit, decision.resetSeconds);
  }
}
