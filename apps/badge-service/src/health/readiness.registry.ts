import { Injectable } from '@nestjs/common';

export interface CheckResult {
  ok: boolean;
  detail?: unknown;
}
export type ReadinessCheck = () => Promise<CheckResult> | CheckResult;

/** A detail value /health/ready may show: booleans, numbers, null and short codes, in objects and arrays. */
const CODE = /^[\w.:-]{1,64}$/;

/**
 * Each role registers what "ready" means for it; /health/ready runs them all as terminus health indicators
 * (ReadinessService).
 */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** From now on the process reports not ready (SIGTERM: load balancers stop sending before it stops serving). */
  drain(): void {
    this.draining = true;
  }

  /** The registered checks, by name. */
  entries(): [string, ReadinessCheck][] {
    return [...this.checks];
  }

  get isDraining(): boolean {
    return this.draining;
  }
}

export function safeDetail(value: unknown): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') return CODE.test(value) ? value : undefined;
  if (Array.isArray(value)) return value.map(safeDetail).filter((v) => v !== undefined);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const safe = safeDetail(v);
      if (safe !== undefined && CODE.test(k)) out[k] = safe;
    }
    return out;
  }
  return undefined;
}
