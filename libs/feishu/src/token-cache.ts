import type { Clock } from './clock';
import { TOKEN_REFRESH_RETRY_MS } from './feishu.constants';
import type { FeishuLogger } from './feishu.logger';

export interface FetchedToken {
  readonly token: string;
  /** Lifetime in seconds, as Feishu's `expire`. */
  readonly expireSeconds: number;
}

interface Entry {
  readonly token: string;
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/**
 * Per-key token cache: refresh ahead of expiry, one fetch in flight per key however many callers wait, and
 * invalidation that only drops the token it was told about.
 */
export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly clock: Clock,
    private readonly refreshMarginMs: number,
    private readonly label: string,
    private readonly logger?: FeishuLogger,
    private readonly refreshRetryMs: number = TOKEN_REFRESH_RETRY_MS,
  ) {}

  /**
   * The cached token while it is fresh. Inside the refresh margin the cached token is answered at once and the
   * refresh runs behind it: Feishu issues a new token in an old one's last 30 minutes and keeps the old one valid
   * until it expires, so no push waits a round trip for a refresh (a slot it would miss). Only without a valid token
   * (the first call, after invalidate, after expiry) does the caller wait for the fetch.
   */
  async get(key: string, fetch: () => Promise<FetchedToken>): Promise<string> {
    const cached = this.entries.get(key);
    const now = this.clock.now();
    if (cached && now < cached.refreshAt) return cached.token;
    if (cached && now < cached.expiresAt) {
      // One refresh, and one warning if it fails, however many callers arrive while it runs.
      if (this.inflight.has(key)) return cached.token;
      this.fetchOnce(key, fetch).catch(() => {
        // A failed early refresh is not an outage: the old token still works until it expires (fetchOnce put the
        // next attempt refreshRetryMs away). Unless it was invalidated or expired meanwhile: the next caller fetches.
        const current = this.entries.get(key);
        const leftMs = current ? current.expiresAt - this.clock.now() : 0;
        if (leftMs > 0) this.logger?.warn({ token: this.label, key, expiresInMs: leftMs }, 'Feishu token refresh failed; using the cached token until it expires');
        else this.logger?.warn({ token: this.label, key }, 'Feishu token refresh failed, and no cached token is left');
      });
      return cached.token;
    }
    return this.fetchOnce(key, fetch);
  }

  invalidate(key: string, token: string): boolean {
    const cached = this.entries.get(key);
    if (cached?.token !== token) return false;
    this.entries.delete(key);
    return true;
  }

  private fetchOnce(key: string, fetch: () => Promise<FetchedToken>): Promise<string> {
    const running = this.inflight.get(key);
    if (running) return running;
    const tracked: Promise<string> = Promise.resolve()
      .then(fetch)
      .then((fetched) => {
        const now = this.clock.now();
        const lifetimeMs = fetched.expireSeconds * 1000;
        const marginMs = Math.min(this.refreshMarginMs, lifetimeMs / 2);
        this.entries.set(key, { token: fetched.token, refreshAt: now + lifetimeMs - marginMs, expiresAt: now + lifetimeMs });
        this.logger?.debug({ token: this.label, key, expireSeconds: fetched.expireSeconds }, 'Feishu token fetched');
        return fetched.token;
      })
      .catch((err: unknown) => {
        // Keep serving a still-valid token, and do not hammer the token endpoint while it fails.
        const now = this.clock.now();
        const current = this.entries.get(key);
        if (current && now < current.expiresAt) {
          this.entries.set(key, { ...current, refreshAt: Math.min(now + this.refreshRetryMs, current.expiresAt) });
        }
        throw err;
      })
      .finally(() => {
        if (this.inflight.get(key) === tracked) this.inflight.delete(key);
      });
    this.inflight.set(key, tracked);
    return tracked;
  }
}
