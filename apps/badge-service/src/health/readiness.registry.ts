import { Injectable } from '@nestjs/common';

export interface CheckResult {
  ok: boolean;
  detail?: unknown;
}
export type ReadinessCheck = () => Promise<CheckResult> | CheckResult;

/** A detail value /health/ready may show: booleans, numbers, null and short codes, in objects and arrays. */
const CODE = /^[\w.:-]{1,64}$/;

/**
 * Each role registers what "ready" means for it; /health/ready runs them all. The endpoint has no authentication,
 * so details are reduced to booleans, numbers and codes: free text (an error message, which may name a host, a
 * user or worse) is dropped here, whatever a check returns.
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

  async run(): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
    const checks: Record<string, CheckResult> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          const r = await check();
          checks[name] = r.detail === undefined ? { ok: r.ok } : { ok: r.ok, detail: safeDetail(r.detail) };
        } catch (e) {
          const code = safeDetail((e as { code?: unknown } | null)?.code ?? (e instanceof Error ? e.name : undefined));
          checks[name] = code === undefined ? { ok: false } : { ok: false, detail: { error: code } };
        }
      }),
    );
    if (this.draining) checks['shutdown'] = { ok: false, detail: { draining: true } };
    return { ok: Object.values(checks).every((c) => c.ok), checks };
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
