import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CheckResult, ReadinessCheck, ReadinessRegistry, safeDetail } from './readiness.registry';

export interface ReadinessReport {
  ok: boolean;
  checks: Record<string, CheckResult>;
}

const DRAINING: CheckResult = { ok: false, detail: { draining: true } };

/**
 * Runs the registered checks as terminus health indicators and answers in the contract's shape
 * (`checks: {name: {ok, detail?}}`), not terminus's (`info`/`error`/`details` with `status: up|down`).
 * The endpoint has no authentication, so details are reduced to booleans, numbers and codes: free text (an error
 * message, which may name a host, a user or worse) is dropped here, whatever a check returns or throws.
 */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly registry: ReadinessRegistry,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async run(): Promise<ReadinessReport> {
    const indicators = this.registry.entries().map(([name, check]) => () => this.indicate(name, check));
    if (this.registry.isDraining) indicators.push(() => Promise.resolve(this.indicators.check('shutdown').down({ detail: DRAINING.detail })));
    let result: HealthCheckResult;
    try {
      result = await this.health.check(indicators);
    } catch (e) {
      // terminus answers a failing check (or its own shutdown) by throwing the result inside a 503.
      if (!(e instanceof ServiceUnavailableException)) throw e;
      result = e.getResponse() as HealthCheckResult;
    }
    const checks: Record<string, CheckResult> = {};
    for (const [name, { status, detail }] of Object.entries(result.details)) {
      checks[name] = detail === undefined ? { ok: status === 'up' } : { ok: status === 'up', detail };
    }
    // Nest is closing (terminus saw beforeApplicationShutdown) though no signal drained us: app.close() in tests.
    if (result.status === 'shutting_down' && checks['shutdown'] === undefined) checks['shutdown'] = DRAINING;
    return { ok: result.status === 'ok' || result.status === 'degraded', checks };
  }

  /** One check as an indicator that never throws (terminus would answer 500 and lose the other checks). */
  private async indicate(name: string, check: ReadinessCheck): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(name);
    try {
      const r = await check();
      const data: { detail?: unknown } = r.detail === undefined ? {} : { detail: safeDetail(r.detail) };
      return r.ok ? session.up(data) : session.down(data);
    } catch (e) {
      const code = safeDetail((e as { code?: unknown } | null)?.code ?? (e instanceof Error ? e.name : undefined));
      return session.down(code === undefined ? {} : { detail: { error: code } });
    }
  }
}
