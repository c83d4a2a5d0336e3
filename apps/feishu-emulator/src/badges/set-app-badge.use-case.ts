import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { Clock } from '../common/clock.service';
import { FeishuError } from '../common/feishu.error';
import { CODES, DEFAULTS, HTTP_REASONS, MESSAGES } from '../emulator.constants';
import { FaultInjector } from '../faults/fault-injector.service';
import { GatewayService, rateLimitedError } from '../gateway/gateway.service';
import { RateLimiter } from '../gateway/rate-limiter.service';
import { TokenService } from '../tokens/token.service';
import { BadgeService } from './badge.service';
import { validateBadgeSet } from './badge-set.validator';

export interface SetAppBadgeInput {
  authorization: string | undefined;
  userIdType: unknown;
  body: unknown;
  res: Response;
}

const SUCCESS = { code: CODES.ok, msg: MESSAGES.badgeOk, data: {} } as const;

/**
 * POST /open-apis/application/v6/app_badge/set, in the order a request meets things at Feishu:
 * outage, forced 429 storm, token, rate limit, injected transport faults, validation, then the
 * badge rules. An ambiguous fault applies the change and answers 500 anyway. A storm announces the
 * configured limit, or the default one when the limit is off: a client pacing itself by the header
 * must never read 0.
 */
@Injectable()
export class SetAppBadgeUseCase {
  constructor(
    private readonly gateway: GatewayService,
    private readonly tokens: TokenService,
    private readonly faults: FaultInjector,
    private readonly limiter: RateLimiter,
    private readonly badges: BadgeService,
    private readonly clock: Clock,
  ) {}

  private readonly injectLatency = (): Promise<void> | null => {
    const ms = this.faults.delayMs();
    return ms > 0 ? this.clock.sleep(ms) : null;
  };

  async execute(input: SetAppBadgeInput): Promise<typeof SUCCESS> {
    this.gateway.checkOutage();
    const stormReset = this.faults.stormResetSecondsNow();
    if (stormReset !== null) {
      const limit = this.limiter.limitOf('app_badge/set');
      throw rateLimitedError(limit > 0 ? limit : DEFAULTS.appBadgeSetRateLimit, stormReset);
    }
    const principal = this.tokens.authenticate(input.authorization);
    this.gateway.checkRateLimit('app_badge/set', principal.appId, principal.tenantKey);

    const fault = this.faults.draw();
    if (fault === 'hang') return this.faults.hang(input.res);
    if (fault === 'drop') throw this.faults.drop(input.res);
    if (fault === 'http5xx') {
      const status = this.faults.http5xxStatus();
      throw new FeishuError(status, status, HTTP_REASONS[status] ?? 'server error');
    }

    const command = validateBadgeSet(input.userIdType, input.body);
    const entry = await this.badges.set(principal.tenantKey, command, this.injectLatency);
    if (fault === 'ambiguous') {
      this.faults.countAmbiguous();
      entry.answeredStatus = 500;
      throw new FeishuError(500, 500, HTTP_REASONS[500]);
    }
    return SUCCESS;
  }
}
