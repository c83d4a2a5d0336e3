import { Inject, Injectable } from '@nestjs/common';
import type { z } from 'zod';
import { AdminRequestError } from '../common/feishu.error';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import type { EmulatorConfig } from '../config/emulator.config';
import { BadgeService } from '../badges/badge.service';
import { UserStatusService } from '../badges/user-status.service';
import { DEFAULT_USER_ID_TYPE } from '../emulator.constants';
import { FaultInjector } from '../faults/fault-injector.service';
import { RateLimiter } from '../gateway/rate-limiter.service';
import { StatsService } from '../stats/stats.service';
import { AppTicketPusher } from '../tokens/app-ticket.pusher';
import { TokenService } from '../tokens/token.service';
import {
  badgeListQuerySchema,
  badgeQuerySchema,
  faultPatchSchema,
  rateLimitPatchSchema,
  tokenSettingsPatchSchema,
  userStatusPatchSchema,
} from './admin.schemas';

/** The /_emulator read-back and control surface; not part of Feishu, no auth. */
@Injectable()
export class AdminService {
  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    private readonly badges: BadgeService,
    private readonly users: UserStatusService,
    private readonly faults: FaultInjector,
    private readonly limiter: RateLimiter,
    private readonly tokens: TokenService,
    private readonly pusher: AppTicketPusher,
    private readonly stats: StatsService,
  ) {}

  badge(userId: string, query: unknown) {
    const { tenantKey = this.config.defaultTenantKey, userIdType = DEFAULT_USER_ID_TYPE } = parse(badgeQuerySchema, query);
    const found = this.badges.find(tenantKey, userIdType, userId);
    if (found === null || found.badge === null) {
      throw new AdminRequestError(404, 'badge never set', found === null ? [] : [`${found.history.length} rejected request(s) in history`]);
    }
    return { ...found.badge, history: found.history };
  }

  badgeList(query: unknown) {
    const { offset, limit, tenantKey } = parse(badgeListQuerySchema, query);
    return { offset, limit, ...this.badges.list(offset, limit, tenantKey) };
  }

  /** The history of a user whose badge was never set (rejected requests only), for diagnosis. */
  badgeHistory(userId: string, query: unknown) {
    const { tenantKey = this.config.defaultTenantKey, userIdType = DEFAULT_USER_ID_TYPE } = parse(badgeQuerySchema, query);
    return { userId, userIdType, tenantKey, history: this.badges.find(tenantKey, userIdType, userId)?.history ?? [] };
  }

  statsSnapshot() {
    const answers = this.stats.snapshot();
    const faults = this.faults.countersSnapshot();
    return {
      requests: answers.requests,
      codes: answers.codes,
      statuses: answers.statuses,
      ambiguousInjected: faults.ambiguous,
      faultsInjected: faults,
      hungNow: this.faults.hungCount(),
      concurrency: { ...this.badges.concurrency(), inFlight: answers.inFlight, peakInFlight: answers.peakInFlight },
      rateLimit: { limits: this.limiter.getLimits(), maxAcceptedPerWindow: this.limiter.maxAcceptedPerWindow() },
      tokens: { ...this.tokens.countersSnapshot(), appTicketCallbacks: this.pusher.countersSnapshot() },
    };
  }

  reset() {
    this.badges.reset();
    this.users.reset();
    this.faults.reset();
    this.limiter.reset();
    this.tokens.reset();
    this.pusher.resetCounters();
    this.stats.reset();
    return { reset: true };
  }

  faultState() {
    return this.faults.state();
  }

  updateFaults(body: unknown) {
    const patch = parse(faultPatchSchema, body);
    const merged = { ...this.faults.currentSettings(), ...patch };
    if (merged.http5xxRate + merged.ambiguousRate + merged.hangRate + merged.dropRate > 1 + 1e-9) {
      throw new AdminRequestError(400, 'invalid faults', ['http5xxRate + ambiguousRate + hangRate + dropRate must not exceed 1']);
    }
    return this.faults.update(patch);
  }

  userStatuses() {
    return this.users.lists();
  }

  updateUserStatuses(body: unknown) {
    const patch = parse(userStatusPatchSchema, body);
    this.users.mark(patch.normal ?? [], 'normal');
    this.users.mark(patch.invisible ?? [], 'invisible');
    this.users.mark(patch.invalid ?? [], 'invalid');
    return this.users.lists();
  }

  rateLimits() {
    return this.limiter.getLimits();
  }

  updateRateLimits(body: unknown) {
    const patch = parse(rateLimitPatchSchema, body);
    return this.limiter.setLimits({
      ...(patch.appBadgeSet !== undefined && { 'app_badge/set': patch.appBadgeSet }),
      ...(patch.token !== undefined && { token: patch.token }),
    });
  }

  tokenSettings() {
    return this.tokens.getSettings();
  }

  updateTokenSettings(body: unknown) {
    return this.tokens.updateSettings(parse(tokenSettingsPatchSchema, body));
  }

  expireTokens() {
    return { expired: this.tokens.expireAll() };
  }

  appTicket() {
    const latest = this.tokens.latestAppTicket();
    if (latest === null) throw new AdminRequestError(404, 'no app_ticket issued yet');
    return latest;
  }
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) {
    throw new AdminRequestError(
      400,
      'invalid request',
      result.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`),
    );
  }
  return result.data;
}
