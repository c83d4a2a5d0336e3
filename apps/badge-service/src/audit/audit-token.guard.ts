import { CanActivate, ExecutionContext, ForbiddenException, Injectable, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppConfig, AuditScope, ScopedAuditToken } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { hash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export type BearerVerdict = 'ok' | 'missing' | 'scheme' | 'invalid';

const REASONS: Record<Exclude<BearerVerdict, 'ok'>, string> = {
  missing: 'missing bearer token (Authorization: Bearer <token>)',
  scheme: 'unsupported authorization scheme (expected Bearer)',
  invalid: 'invalid token',
};

/** One-shot (no Hash object per request). */
const sha256 = (s: string) => hash('sha256', s, 'buffer');

/** Who called: the token's name, what it may do and which tenants it may see. */
export interface AuditPrincipal {
  readonly name: string;
  readonly scopes: ReadonlySet<AuditScope>;
  /** null: every tenant. */
  readonly tenants: ReadonlySet<string> | null;
}

/** Where the guard leaves the principal on the request. */
export const AUDIT_PRINCIPAL = Symbol('auditPrincipal');
export type AuditRequest = Request & { [AUDIT_PRINCIPAL]?: AuditPrincipal };

export function principalOf(req: AuditRequest): AuditPrincipal {
  const p = req[AUDIT_PRINCIPAL];
  if (!p) throw new Error('no audit principal on the request: AuditTokenGuard did not run');
  return p;
}

export function principal(t: ScopedAuditToken): AuditPrincipal {
  return { name: t.name, scopes: new Set(t.scopes), tenants: t.tenants === '*' ? null : new Set(t.tenants) };
}

/**
 * Checks an Authorization header against the configured tokens' digests. The candidate is hashed so every
 * comparison is of 32 bytes (the length of a token does not leak), and every token is compared (which one matched
 * does not leak either).
 */
export class BearerTokens {
  private readonly entries: { digest: Buffer; principal: AuditPrincipal }[];

  constructor(tokens: readonly ScopedAuditToken[]) {
    this.entries = tokens.map((t) => ({ digest: Buffer.from(t.sha256, 'hex'), principal: principal(t) }));
  }

  verify(header: string | undefined): { verdict: BearerVerdict; principal?: AuditPrincipal } {
    const value = (header ?? '').trim();
    if (value === '') return { verdict: 'missing' };
    const gap = value.search(/\s/);
    const scheme = gap < 0 ? value : value.slice(0, gap);
    if (scheme.toLowerCase() !== 'bearer') return { verdict: 'scheme' }; // schemes are case-insensitive (RFC 9110 §11.1)
    const token = gap < 0 ? '' : value.slice(gap).trim();
    if (token === '') return { verdict: 'missing' };
    const candidate = sha256(token);
    let found: AuditPrincipal | undefined;
    for (const e of this.entries) if (timingSafeEqual(candidate, e.digest)) found ??= e.principal;
    return found ? { verdict: 'ok', principal: found } : { verdict: 'invalid' };
  }
}

const SCOPE = 'auditScope';
/** The scope a route needs; `read` unless told. */
export const RequireScope = (scope: AuditScope) => SetMetadata(SCOPE, scope);

/** Everything under /v1 requires a configured token (401) with the route's scope (403). */
@Injectable()
export class AuditTokenGuard implements CanActivate {
  private readonly tokens: BearerTokens;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly reflector: Reflector,
  ) {
    this.tokens = new BearerTokens(config.get('audit', { infer: true }).tokens);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<AuditRequest>();
    const { verdict, principal } = this.tokens.verify(req.headers.authorization);
    if (verdict === 'ok' && principal) {
      const needed = this.reflector.getAllAndOverride<AuditScope | undefined>(SCOPE, [context.getHandler(), context.getClass()]) ?? 'read';
      if (!principal.scopes.has(needed)) throw new ForbiddenException(`this token lacks the ${needed} scope`);
      req[AUDIT_PRINCIPAL] = principal;
      return true;
    }
    // RFC 6750 §3: a missing credential gets the bare challenge, a bad one says invalid_token.
    http
      .getResponse<Response>()
      .setHeader('WWW-Authenticate', verdict === 'invalid' ? 'Bearer realm="badge-audit", error="invalid_token"' : 'Bearer realm="badge-audit"');
    throw new UnauthorizedException(REASONS[verdict as Exclude<BearerVerdict, 'ok'>]);
  }
}
