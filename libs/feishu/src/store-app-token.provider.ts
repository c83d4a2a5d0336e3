import { type Clock, systemClock } from './clock';
import { FeishuAuthError, type FeishuAuthErrorDetails } from './feishu-auth.error';
import {
  DEFAULT_APP_TICKET_RESEND_INTERVAL_MS,
  DEFAULT_TOKEN_REFRESH_MARGIN_MS,
  DEFAULT_TOKEN_TIMEOUT_MS,
  FEISHU_AUTH_CODES,
  FEISHU_CODE,
  FEISHU_PATH,
} from './feishu.constants';
import type { FeishuLogger } from './feishu.logger';
import type { HttpTransport } from './http.transport';
import { postAuth, requestToken, type TenantTokenProvider } from './tenant-token.provider';
import { type FetchedToken, TokenCache } from './token-cache';

export interface StoreAppTokenProviderOptions {
  readonly baseUrl: string;
  readonly appId: string;
  readonly appSecret: string;
  /** Refresh this long before expiry (never more than half the token's lifetime). Default 5 min. */
  readonly refreshMarginMs?: number;
  readonly timeoutMs?: number;
  /** Minimum time between the app_ticket resends a missing or invalid ticket triggers. Default 30 s. */
  readonly appTicketResendIntervalMs?: number;
}

/**
 * Store app (商店应用): app_ticket (pushed to the service's event callback) → app_access_token → one
 * tenant_access_token per tenant. Without a ticket it fails at once with `app_ticket_missing` instead of waiting:
 * the caller backs off, and the ticket arrives through setAppTicket.
 */
export class StoreAppTokenProvider implements TenantTokenProvider {
  private static readonly APP_KEY = '';
  readonly #appSecret: string;
  #appTicket: string | null = null;
  private readonly baseUrl: string;
  private readonly appId: string;
  private readonly timeoutMs: number;
  private readonly resendIntervalMs: number;
  private readonly appTokens: TokenCache;
  private readonly tenantTokens: TokenCache;
  private lastResendAt: number | null = null;
  private resendInFlight: Promise<void> | null = null;

  constructor(
    private readonly transport: HttpTransport,
    options: StoreAppTokenProviderOptions,
    private readonly clock: Clock = systemClock,
    private readonly logger?: FeishuLogger,
  ) {
    this.baseUrl = options.baseUrl;
    this.appId = options.appId;
    this.#appSecret = options.appSecret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
    this.resendIntervalMs = options.appTicketResendIntervalMs ?? DEFAULT_APP_TICKET_RESEND_INTERVAL_MS;
    const margin = options.refreshMarginMs ?? DEFAULT_TOKEN_REFRESH_MARGIN_MS;
    this.appTokens = new TokenCache(clock, margin, 'app_access_token', logger);
    this.tenantTokens = new TokenCache(clock, margin, 'tenant_access_token', logger);
  }

  /** Called with the ticket from each app_ticket event (about hourly). */
  setAppTicket(ticket: string): void {
    if (typeof ticket !== 'string' || ticket === '') return;
    this.#appTicket = ticket;
    this.logger?.debug({ appId: this.appId }, 'Feishu app_ticket received');
  }

  hasAppTicket(): boolean {
    return this.#appTicket !== null;
  }

  /** Asks Feishu to push an app_ticket now (it arrives at the event callback). Rejects with FeishuAuthError. */
  requestAppTicket(): Promise<void> {
    if (this.resendInFlight) return this.resendInFlight;
    this.lastResendAt = this.clock.now();
    const running: Promise<void> = postAuth({
      transport: this.transport,
      baseUrl: this.baseUrl,
      path: FEISHU_PATH.APP_TICKET_RESEND,
      body: { app_id: this.appId, app_secret: this.#appSecret },
      timeoutMs: this.timeoutMs,
      secrets: this.secrets(),
    })
      .then(() => this.logger?.debug({ appId: this.appId }, 'Feishu app_ticket resend requested'))
      .finally(() => {
        if (this.resendInFlight === running) this.resendInFlight = null;
      });
    this.resendInFlight = running;
    return running;
  }

  getToken(tenantKey: string): Promise<string> {
    if (tenantKey === '') {
      return Promise.reject(
        this.error({
          reason: 'tenant_key_missing',
          endpoint: FEISHU_PATH.TENANT_ACCESS_TOKEN,
          code: null,
          msg: 'a store app needs a tenant key to get a tenant_access_token',
          logId: null,
          httpStatus: null,
        }),
      );
    }
    return this.tenantTokens.get(tenantKey, () => this.fetchTenantToken(tenantKey));
  }

  invalidate(tenantKey: string, token: string): void {
    this.tenantTokens.invalidate(tenantKey, token);
  }

  private async fetchTenantToken(tenantKey: string): Promise<FetchedToken> {
    const appToken = await this.getAppToken();
    try {
      return await this.requestTenantToken(appToken, tenantKey);
    } catch (err) {
      if (!(err instanceof FeishuAuthError) || err.code === null || !FEISHU_AUTH_CODES.has(err.code)) throw err;
      // The app_access_token itself was refused: drop it and try once more with a fresh one.
      this.appTokens.invalidate(StoreAppTokenProvider.APP_KEY, appToken);
      return this.requestTenantToken(await this.getAppToken(), tenantKey);
    }
  }

  private requestTenantToken(appToken: string, tenantKey: string): Promise<FetchedToken> {
    return requestToken(
      {
        transport: this.transport,
        baseUrl: this.baseUrl,
        path: FEISHU_PATH.TENANT_ACCESS_TOKEN,
        body: { app_access_token: appToken, tenant_key: tenantKey },
        timeoutMs: this.timeoutMs,
        secrets: [...this.secrets(), appToken],
      },
      'tenant_access_token',
    );
  }

  private getAppToken(): Promise<string> {
    return this.appTokens.get(StoreAppTokenProvider.APP_KEY, () => this.fetchAppToken());
  }

  private async fetchAppToken(): Promise<FetchedToken> {
    const ticket = this.#appTicket;
    if (ticket === null) {
      await this.resendThrottled();
      throw this.error({
        reason: 'app_ticket_missing',
        endpoint: FEISHU_PATH.APP_ACCESS_TOKEN,
        code: null,
        msg: 'no app_ticket received yet; Feishu pushes one to the event callback after a resend',
        logId: null,
        httpStatus: null,
      });
    }
    try {
      return await requestToken(
        {
          transport: this.transport,
          baseUrl: this.baseUrl,
          path: FEISHU_PATH.APP_ACCESS_TOKEN,
          body: { app_id: this.appId, app_secret: this.#appSecret, app_ticket: ticket },
          timeoutMs: this.timeoutMs,
          secrets: [this.#appSecret, ticket],
        },
        'app_access_token',
      );
    } catch (err) {
      if (!(err instanceof FeishuAuthError) || err.code !== FEISHU_CODE.APP_TICKET_INVALID) throw err;
      if (this.#appTicket === ticket) this.#appTicket = null;
      await this.resendThrottled();
      const { endpoint, code, msg, logId, httpStatus } = err;
      throw this.error({ reason: 'app_ticket_invalid', endpoint, code, msg, logId, httpStatus }, [ticket]);
    }
  }

  /** Never rejects: a failed resend is logged, the caller reports the missing ticket. */
  private async resendThrottled(): Promise<void> {
    const now = this.clock.now();
    if (!this.resendInFlight && this.lastResendAt !== null && now - this.lastResendAt < this.resendIntervalMs) return;
    try {
      await this.requestAppTicket();
    } catch (err) {
      const details = err instanceof FeishuAuthError ? { reason: err.reason, code: err.code, logId: err.logId } : {};
      this.logger?.warn({ appId: this.appId, ...details }, 'Feishu app_ticket resend failed');
    }
  }

  private secrets(): string[] {
    return this.#appTicket === null ? [this.#appSecret] : [this.#appSecret, this.#appTicket];
  }

  private error(details: FeishuAuthErrorDetails, extraSecrets: readonly string[] = []): FeishuAuthError {
    return new FeishuAuthError(details, [...this.secrets(), ...extraSecrets]);
  }
}
