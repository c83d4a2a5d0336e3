import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock.service';
import { FeishuError } from '../common/feishu.error';
import { EMULATOR_CONFIG } from '../common/injection.tokens';
import { Random } from '../common/random.service';
import type { EmulatorConfig } from '../config/emulator.config';
import { CODES, MESSAGES, TOKEN_PREFIX, TOKEN_SHAPE } from '../emulator.constants';
import { GatewayService } from '../gateway/gateway.service';
import { AppTicketPusher } from './app-ticket.pusher';

export interface Principal {
  appId: string;
  tenantKey: string;
}

type TokenKind = 'tenant' | 'app';

interface IssuedToken extends Principal {
  kind: TokenKind;
  expiresAt: number;
}

export interface TokenSettings {
  ttlSeconds: number;
  refreshRatio: number;
}

export interface TokenCounters {
  tenantTokensIssued: number;
  tenantTokensReused: number;
  appTokensIssued: number;
  appTokensReused: number;
  appTicketsIssued: number;
}

const zeroCounters = (): TokenCounters => ({
  tenantTokensIssued: 0,
  tenantTokensReused: 0,
  appTokensIssued: 0,
  appTokensReused: 0,
  appTicketsIssued: 0,
});

const PURGE_ABOVE = 1000;
const STORE_APP_TENANTLESS = '';

/**
 * Feishu's token rules: a token lives `ttlSeconds`; asking again while more than
 * `ttlSeconds * refreshRatio` of it is left returns the same token, otherwise a new one,
 * and the old one stays valid until it expires.
 */
@Injectable()
export class TokenService {
  private settings: TokenSettings;
  private counters = zeroCounters();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly current = new Map<string, string>();
  private readonly tickets = new Map<string, { appId: string; expiresAt: number }>();
  private latestTicket: { appId: string; appTicket: string; issuedAt: string } | null = null;

  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly gateway: GatewayService,
    private readonly pusher: AppTicketPusher,
  ) {
    this.settings = this.startSettings();
  }

  issueCustomTenantToken(body: unknown) {
    this.gateway.checkOutage();
    const { app_id, app_secret } = asRecord(body);
    const app = this.config.customApp;
    this.admitTokenCall(app_id, app.appId, this.config.defaultTenantKey);
    this.checkCredentials(app_id, app_secret, app);
    const { token, expire } = this.obtain('tenant', app.appId, this.config.defaultTenantKey);
    return { code: CODES.ok, msg: MESSAGES.tokenOk, tenant_access_token: token, expire };
  }

  resendAppTicket(body: unknown) {
    this.gateway.checkOutage();
    const { app_id, app_secret } = asRecord(body);
    const app = this.requireStoreApp(app_id);
    this.gateway.checkRateLimit('token', app.appId, STORE_APP_TENANTLESS);
    this.checkCredentials(app_id, app_secret, app);
    const appTicket = this.random.hex(16);
    const now = this.clock.now();
    this.tickets.set(appTicket, { appId: app.appId, expiresAt: now + this.config.tokens.appTicketTtlSeconds * 1000 });
    this.latestTicket = { appId: app.appId, appTicket, issuedAt: new Date(now).toISOString() };
    this.counters.appTicketsIssued += 1;
    void this.pusher.push(app.appId, appTicket);
    return { code: CODES.ok, msg: MESSAGES.tokenOk };
  }

  issueAppAccessToken(body: unknown) {
    this.gateway.checkOutage();
    const { app_id, app_secret, app_ticket } = asRecord(body);
    const app = this.requireStoreApp(app_id);
    this.gateway.checkRateLimit('token', app.appId, STORE_APP_TENANTLESS);
    this.checkCredentials(app_id, app_secret, app);
    const ticket = typeof app_ticket === 'string' ? this.tickets.get(app_ticket) : undefined;
    if (ticket === undefined || ticket.appId !== app.appId || ticket.expiresAt <= this.clock.now()) {
      throw this.tokenError(CODES.appTicketInvalid, MESSAGES.appTicketInvalid);
    }
    const { token, expire } = this.obtain('app', app.appId, STORE_APP_TENANTLESS);
    return { code: CODES.ok, msg: MESSAGES.tokenOk, app_access_token: token, expire };
  }

  issueStoreTenantToken(body: unknown) {
    this.gateway.checkOutage();
    const { app_access_token, tenant_key } = asRecord(body);
    const appToken = typeof app_access_token === 'string' ? this.lookup(app_access_token) : undefined;
    if (appToken === undefined || appToken.kind !== 'app') {
      throw this.tokenError(CODES.appTokenInvalid, MESSAGES.appTokenInvalid);
    }
    const tenantKeys = this.config.storeApp?.tenantKeys ?? [];
    if (typeof tenant_key !== 'string' || tenant_key === '' || (tenantKeys.length > 0 && !tenantKeys.includes(tenant_key))) {
      throw this.tokenError(CODES.invalidParam, MESSAGES.invalidParam);
    }
    this.gateway.checkRateLimit('token', appToken.appId, tenant_key);
    const { token, expire } = this.obtain('tenant', appToken.appId, tenant_key);
    return { code: CODES.ok, msg: MESSAGES.tokenOk, tenant_access_token: token, expire };
  }

  /** Checks `Authorization: Bearer <tenant_access_token>` of a business call. */
  authenticate(authorization: string | undefined): Principal {
    // Feishu answers a header without the Bearer scheme like a missing one.
    if (authorization === undefined || authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw new FeishuError(400, CODES.tokenMissing, MESSAGES.tokenMissing);
    }
    const token = authorization.slice(7).trim();
    if (!TOKEN_SHAPE.test(token)) throw new FeishuError(400, CODES.tokenMalformed, MESSAGES.tokenMalformed);
    const issued = this.lookup(token);
    if (issued === undefined || issued.kind !== 'tenant') throw new FeishuError(400, CODES.tokenInvalid, MESSAGES.tokenInvalid);
    return issued;
  }

  getSettings(): TokenSettings {
    return { ...this.settings };
  }

  /** Lowering the lifetime also shortens live tokens to at most the new lifetime. */
  updateSettings(patch: Partial<TokenSettings>): TokenSettings {
    this.settings = { ...this.settings, ...patch };
    if (patch.ttlSeconds !== undefined) {
      const latest = this.clock.now() + patch.ttlSeconds * 1000;
      for (const issued of this.tokens.values()) issued.expiresAt = Math.min(issued.expiresAt, latest);
    }
    return this.getSettings();
  }

  /** Every token issued so far stops working now. */
  expireAll(): number {
    const count = this.tokens.size;
    this.tokens.clear();
    this.current.clear();
    return count;
  }

  latestAppTicket() {
    return this.latestTicket;
  }

  countersSnapshot(): TokenCounters {
    return { ...this.counters };
  }

  /** Back to the configured settings and zero counters; issued tokens and tickets stay valid. */
  reset(): void {
    this.settings = this.startSettings();
    this.counters = zeroCounters();
  }

  private obtain(kind: TokenKind, appId: string, tenantKey: string): { token: string; expire: number } {
    const now = this.clock.now();
    const slot = `${kind}\u0001${appId}\u0001${tenantKey}`;
    const currentToken = this.current.get(slot);
    const current = currentToken === undefined ? undefined : this.tokens.get(currentToken);
    const thresholdMs = this.settings.ttlSeconds * this.settings.refreshRatio * 1000;
    if (currentToken !== undefined && current !== undefined && current.expiresAt - now > thresholdMs) {
      if (kind === 'tenant') this.counters.tenantTokensReused += 1;
      else this.counters.appTokensReused += 1;
      return { token: currentToken, expire: Math.floor((current.expiresAt - now) / 1000) };
    }
    if (this.tokens.size > PURGE_ABOVE) this.purgeExpired(now);
    const token = `${TOKEN_PREFIX[kind]}${this.random.hex(20)}`;
    this.tokens.set(token, { kind, appId, tenantKey, expiresAt: now + this.settings.ttlSeconds * 1000 });
    this.current.set(slot, token);
    if (kind === 'tenant') this.counters.tenantTokensIssued += 1;
    else this.counters.appTokensIssued += 1;
    return { token, expire: this.settings.ttlSeconds };
  }

  private lookup(token: string): IssuedToken | undefined {
    const issued = this.tokens.get(token);
    if (issued === undefined) return undefined;
    if (issued.expiresAt <= this.clock.now()) {
      this.tokens.delete(token);
      return undefined;
    }
    return issued;
  }

  private purgeExpired(now: number): void {
    for (const [token, issued] of this.tokens) if (issued.expiresAt <= now) this.tokens.delete(token);
  }

  private admitTokenCall(appId: unknown, knownAppId: string, tenantKey: string): void {
    if (appId === knownAppId) this.gateway.checkRateLimit('token', knownAppId, tenantKey);
  }

  private requireStoreApp(appId: unknown) {
    const app = this.config.storeApp;
    if (app === null || appId !== app.appId) throw this.tokenError(CODES.invalidParam, MESSAGES.invalidParam);
    return app;
  }

  private checkCredentials(appId: unknown, appSecret: unknown, app: { appId: string; appSecret: string }): void {
    if (typeof appId !== 'string' || appId !== app.appId || typeof appSecret !== 'string' || appSecret === '') {
      throw this.tokenError(CODES.invalidParam, MESSAGES.invalidParam);
    }
    if (appSecret !== app.appSecret) throw this.tokenError(CODES.appSecretInvalid, MESSAGES.appSecretInvalid);
  }

  private tokenError(code: number, msg: string): FeishuError {
    return new FeishuError(this.config.tokens.errorHttpStatus, code, msg);
  }

  private startSettings(): TokenSettings {
    return { ttlSeconds: this.config.tokens.ttlSeconds, refreshRatio: this.config.tokens.refreshRatio };
  }
}

function asRecord(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
