import { Injectable } from '@nestjs/common';

export interface CheckResult {
  ok: boolean;
  detail?: unknown;
}
export type ReadinessCheck = () => Promise<CheckResult> | CheckResult;

/** Each role registers what "ready" means for it; /health/ready runs them all. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async run(): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
    const checks: Record<string, CheckResult> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          checks[name] = await check();
        } catch (e) {
          checks[name] = { ok: false, detail: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  }
}
