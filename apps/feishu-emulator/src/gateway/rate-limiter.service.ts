import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.service';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import type { EmulatorConfig } from '../config/emulator.config';
import { LIMITS, type RateLimitedApi } from '../emulator.constants';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Whole seconds until the current window ends, at least 1. */
  resetSeconds: number;
}

export type RateLimits = Record<RateLimitedApi, number>;

interface WindowState {
  window: number;
  accepted: number;
  maxAccepted: number;
}

/**
 * Fixed one-second windows aligned to the clock, per API x app x tenant, like Feishu's gateway.
 * A limit of 0 means unlimited; accepted requests are still counted so tests can read the peak.
 */
@Injectable()
export class RateLimiter {
  private limits: RateLimits;
  private readonly windows = new Map<string, WindowState>();

  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    private readonly clock: Clock,
  ) {
    this.limits = this.startLimits();
  }

  take(api: RateLimitedApi, appId: string, tenantKey: string): RateDecision {
    const now = this.clock.now();
    const window = Math.floor(now / LIMITS.rateWindowMs);
    const key = `${api}\u0001${appId}\u0001${tenantKey}`;
    let state = this.windows.get(key);
    if (state === undefined) {
      state = { window, accepted: 0, maxAccepted: 0 };
      this.windows.set(key, state);
    } else if (state.window !== window) {
      state.window = window;
      state.accepted = 0;
    }
    const limit = this.limits[api];
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * LIMITS.rateWindowMs - now) / 1000));
    if (limit > 0 && state.accepted >= limit) return { allowed: false, limit, resetSeconds };
    state.accepted += 1;
    if (state.accepted > state.maxAccepted) state.maxAccepted = state.accepted;
    return { allowed: true, limit, resetSeconds };
  }

  limitOf(api: RateLimitedApi): number {
    return this.limits[api];
  }

  getLimits(): RateLimits {
    return { ...this.limits };
  }

  setLimits(patch: Partial<RateLimits>): RateLimits {
    this.limits = { ...this.limits, ...patch };
    return this.getLimits();
  }

  /** `{ "app_badge/set": { "<appId>/<tenantKey>": max accepted in one window } }` */
  maxAcceptedPerWindow(): Record<string, Record<string, number>> {
    const result: Record<string, Record<string, number>> = {};
    for (const [key, state] of this.windows) {
      const [api, appId, tenantKey] = key.split('\u0001');
      (result[api] ??= {})[`${appId}/${tenantKey}`] = state.maxAccepted;
    }
    return result;
  }

  reset(): void {
    this.windows.clear();
    this.limits = this.startLimits();
  }

  private startLimits(): RateLimits {
    return { 'app_badge/set': this.config.rateLimits.appBadgeSet, token: this.config.rateLimits.token };
  }
}
