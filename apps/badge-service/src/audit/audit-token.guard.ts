import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export type BearerVerdict = 'ok' | 'missing' | 'scheme' | 'invalid';

const REASONS: Record<Exclude<BearerVerdict, 'ok'>, string> = {
  missing: 'missing bearer token (Authorization: Bearer <token>)',
  scheme: 'unsupported authorization scheme (expected Bearer)',
  invalid: 'invalid token',
};

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Checks an Authorization header against the configured tokens. Both sides are hashed first so every comparison
 * is of 32 bytes (the length of a token does not leak), and every token is compared (which one matched does not
 * leak either).
 */
export class BearerTokens {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(sha256);
  }

  verify(header: string | undefined): BearerVerdict {
    const value = (header ?? '').trim();
    if (value === '') return 'missing';
    const gap = value.search(/\s/);
    const scheme = gap < 0 ? value : value.slice(0, gap);
    if (scheme.toLowerCase() !== 'bearer') return 'scheme'; // schemes are case-insensitive (RFC 9110 §11.1)
    const token = gap < 0 ? '' : value.slice(gap).trim();
    if (token === '') return 'missing';
    const candidate = sha256(token);
    let match = false;
    for (const d of this.digests) match = timingSafeEqual(candidate, d) || match;
    return match ? 'ok' : 'invalid';
  }
}

/** Everything under /v1 requires one of AUDIT_API_TOKENS. */
@Injectable()
export class AuditTokenGuard implements CanActivate {
  private readonly tokens: BearerTokens;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.tokens = new BearerTokens(config.audit.apiTokens);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const verdict = this.tokens.verify(http.getRequest<Request>().headers.authorization);
    if (verdict === 'ok') return true;
    // RFC 6750 §3: a missing credential gets the bare challenge, a bad one says invalid_token.
    http
      .getResponse<Response>()
      .setHeader('WWW-Authenticate', verdict === 'invalid' ? 'Bearer realm="badge-audit", error="invalid_token"' : 'Bearer realm="badge-audit"');
    throw new UnauthorizedException(REASONS[verdict]);
  }
}
