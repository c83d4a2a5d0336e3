import { Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { Clock } from '../common/clock.service';
import { ConnectionAbandoned } from '../common/feishu.error';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import { Random } from '../common/random.service';
import type { EmulatorConfig, FaultSettings } from '../config/emulator.config';
import { DEFAULTS, NO_ANSWER } from '../emulator.constants';

export type DrawnFault = 'none' | 'http5xx' | 'ambiguous' | 'hang' | 'drop';

export interface FaultState extends FaultSettings {
  outage: { active: boolean; until: string | null };
  rateLimitStorm: { active: boolean; until: string | null; resetSeconds: number };
}

export interface FaultPatch extends Partial<FaultSettings> {
  /** true: until turned off; a number: for that many seconds; false: off. */
  outage?: boolean | { seconds: number };
  rateLimitStorm?: false | { seconds: number; resetSeconds?: number };
}

export interface FaultCounters {
  http5xx: number;
  ambiguous: number;
  hang: number;
  drop: number;
  outage: number;
  rateLimitStorm: number;
  delayed: number;
}

const zeroCounters = (): FaultCounters => ({
  http5xx: 0,
  ambiguous: 0,
  hang: 0,
  drop: 0,
  outage: 0,
  rateLimitStorm: 0,
  delayed: 0,
});

/**
 * Decides and carries out injected faults. The shares of 5xx, ambiguous, hang and drop are
 * exclusive slices of one uniform draw, so they add up to at most 1.
 */
@Injectable()
export class FaultInjector {
  private settings: FaultSettings;
  private outageUntil: number | null = null;
  private stormUntil: number | null = null;
  private stormResetSeconds: number = DEFAULTS.storm429ResetSeconds;
  private counters = zeroCounters();
  private readonly hung = new Set<Response>();

  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {
    this.settings = this.startSettings();
  }

  draw(): DrawnFault {
    const s = this.settings;
    if (s.http5xxRate + s.ambiguousRate + s.hangRate + s.dropRate === 0) return 'none';
    const r = this.random.next();
    let edge = s.http5xxRate;
    if (r < edge) return 'http5xx';
    if (r < (edge += s.ambiguousRate)) return 'ambiguous';
    if (r < (edge += s.hangRate)) return 'hang';
    if (r < (edge += s.dropRate)) return 'drop';
    return 'none';
  }

  http5xxStatus(): number {
    this.counters.http5xx += 1;
    const statuses = this.settings.http5xxStatuses;
    return statuses[Math.min(statuses.length - 1, Math.floor(this.random.next() * statuses.length))];
  }

  countAmbiguous(): void {
    this.counters.ambiguous += 1;
  }

  /** Milliseconds to add to a request: base plus uniform jitter. */
  delayMs(): number {
    const { latencyMs, latencyJitterMs } = this.settings;
    if (latencyMs === 0 && latencyJitterMs === 0) return 0;
    this.counters.delayed += 1;
    return latencyMs + (latencyJitterMs > 0 ? Math.floor(this.random.next() * (latencyJitterMs + 1)) : 0);
  }

  inOutage(): boolean {
    if (this.outageUntil === null) return false;
    if (this.clock.now() >= this.outageUntil) {
      this.outageUntil = null;
      return false;
    }
    this.counters.outage += 1;
    return true;
  }

  /** The reset seconds to announce while a forced 429 storm lasts, else null. */
  stormResetSecondsNow(): number | null {
    if (this.stormUntil === null) return null;
    if (this.clock.now() >= this.stormUntil) {
      this.stormUntil = null;
      return null;
    }
    this.counters.rateLimitStorm += 1;
    return this.stormResetSeconds;
  }

  /** Never answers; rejects once the client goes away or the emulator shuts down. */
  hang(res: Response): Promise<never> {
    this.counters.hang += 1;
    res.locals.code = NO_ANSWER.hung;
    return new Promise<never>((_, reject) => {
      const abandon = () => {
        this.hung.delete(res);
        reject(new ConnectionAbandoned('hung'));
      };
      if (res.socket === null || res.socket.destroyed) return abandon();
      this.hung.add(res);
      res.once('close', abandon);
    });
  }

  drop(res: Response): ConnectionAbandoned {
    this.counters.drop += 1;
    res.locals.code = NO_ANSWER.dropped;
    res.socket?.destroy();
    return new ConnectionAbandoned('dropped');
  }

  hungCount(): number {
    return this.hung.size;
  }

  /** Destroys the sockets of hung requests (at shutdown). */
  releaseHung(): void {
    for (const res of this.hung) res.socket?.destroy();
  }

  update(patch: FaultPatch): FaultState {
    const { outage, rateLimitStorm, ...settings } = patch;
    this.settings = { ...this.settings, ...settings };
    const now = this.clock.now();
    if (outage !== undefined) {
      this.outageUntil = outage === false ? null : outage === true ? Number.POSITIVE_INFINITY : now + outage.seconds * 1000;
    }
    if (rateLimitStorm !== undefined) {
      if (rateLimitStorm === false) {
        this.stormUntil = null;
      } else {
        this.stormUntil = now + rateLimitStorm.seconds * 1000;
        this.stormResetSeconds = rateLimitStorm.resetSeconds ?? DEFAULTS.storm429ResetSeconds;
      }
    }
    return this.state();
  }

  state(): FaultState {
    const now = this.clock.now();
    const until = (t: number | null) => (t === null || t === Number.POSITIVE_INFINITY ? null : new Date(t).toISOString());
    const active = (t: number | null) => t !== null && now < t;
    return {
      ...this.settings,
      http5xxStatuses: [...this.settings.http5xxStatuses],
      outage: { active: active(this.outageUntil), until: until(this.outageUntil) },
      rateLimitStorm: {
        active: active(this.stormUntil),
        until: until(this.stormUntil),
        resetSeconds: this.stormResetSeconds,
      },
    };
  }

  currentSettings(): FaultSettings {
    return { ...this.settings, http5xxStatuses: [...this.settings.http5xxStatuses] };
  }

  countersSnapshot(): FaultCounters {
    return { ...this.counters };
  }

  reset(): void {
    this.settings = this.startSettings();
    this.outageUntil = null;
    this.stormUntil = null;
    this.stormResetSeconds = DEFAULTS.storm429ResetSeconds;
    this.counters = zeroCounters();
  }

  private startSettings(): FaultSettings {
    return { ...this.config.faults, http5xxStatuses: [...this.config.faults.http5xxStatuses] };
  }
}
