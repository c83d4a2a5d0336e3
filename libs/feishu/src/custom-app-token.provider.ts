import { type Clock, systemClock } from './clock';
import { DEFAULT_TOKEN_REFRESH_MARGIN_MS, DEFAULT_TOKEN_TIMEOUT_MS, FEISHU_PATH } from './feishu.constants';
import type { FeishuLogger } from './feishu.logger';
import type { HttpTransport } from './http.transport';
import { requestToken, type TenantTokenProvider } from './tenant-token.provider';
import { TokenCache } from './token-cache';

export interface CustomAppTokenProviderOptions {
  readonly baseUrl: string;
  readonly appId: string;
  readonly appSecret: string;
  /** Refresh this long before expiry (never more than half the token's lifetime). Default 5 min. */
  readonly refreshMarginMs?: number;
  readonly timeoutMs?: number;
}

/** Custom app (自建应用): one tenant, one token from tenant_access_token/internal. */
export class CustomAppTokenProvider implements TenantTokenProvider {
  // A custom app serves exactly one tenant, whatever tenant key a caller passes.
  private static readonly KEY = '';
  readonly #appSecret: string;
  private readonly baseUrl: string;
  private readonly appId: string;
  private readonly timeoutMs: number;
  private readonly cache: TokenCache;

  constructor(
    private readonly transport: HttpTransport,
    options: CustomAppTokenProviderOptions,
    clock: Clock = systemClock,
    logger?: FeishuLogger,
  ) {
    this.baseUrl = options.baseUrl;
    this.appId = options.appId;
    this.#appSecret = options.appSecret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
    this.cache = new TokenCache(clock, options.refreshMarginMs ?? DEFAULT_TOKEN_REFRESH_MARGIN_MS, 'tenant_access_token', logger);
  }

  getToken(_tenantKey: string): Promise<string> {
    return this.cache.get(CustomAppTokenProvider.KEY, () =>
      requestToken(
        {
          transport: this.transport,
          baseUrl: this.baseUrl,
          path: FEISHU_PATH.TENANT_ACCESS_TOKEN_INTERNAL,
          body: { app_id: this.appId, app_secret: this.#appSecret },
          timeoutMs: this.timeoutMs,
          secrets: [this.#appSecret],
        },
        'tenant_access_token',
      ),
    );
  }

  invalidate(_tenantKey: string, token: string): void {
    this.cache.invalidate(CustomAppTokenProvider.KEY, token);
  }
}
