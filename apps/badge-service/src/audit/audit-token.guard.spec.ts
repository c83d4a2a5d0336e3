import crypto from 'node:crypto';
import { ExecutionContext, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { configServiceOf, loadConfig, parseAuditTokensFile, plainAuditTokens } from '@badges/config';
import { AUDIT_PRINCIPAL, AuditTokenGuard, BearerTokens } from './audit-token.guard';

const A = 'token-aaaaaaaaaaaaaaaaaaaa';
const B = 'token-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

describe('BearerTokens', () => {
  const sut = new BearerTokens(plainAuditTokens(`${A},${B}`).tokens);
  afterEach(() => jest.restoreAllMocks());

  it.each([
    [`Bearer ${A}`, 'ok'],
    [`Bearer ${B}`, 'ok'],
    [`bearer ${A}`, 'ok'],
    [`BEARER   ${A}  `, 'ok'],
    [undefined, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    ['Bearer', 'missing'],
    ['Bearer   ', 'missing'],
    [`Basic ${Buffer.from(`user:${A}`).toString('base64')}`, 'scheme'],
    [`Token ${A}`, 'scheme'],
    [A, 'scheme'],
    [`Bearer ${A.slice(0, -1)}`, 'invalid'],
    [`Bearer ${A}x`, 'invalid'],
    [`Bearer ${A.toUpperCase()}`, 'invalid'],
    [`Bearer ${A} ${B}`, 'invalid'],
    ['Bearer x', 'invalid'],
  ])('%j → %s', (header, verdict) => {
    expect(sut.verify(header).verdict).toBe(verdict);
  });

  it('names the token that matched', () => {
    expect(sut.verify(`Bearer ${B}`).principal?.name).toBe('AUDIT_API_TOKENS#2');
    expect(sut.verify('Bearer x').principal).toBeUndefined();
  });

  it('compares fixed-length digests against every token, whichever matches and whatever the length', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    for (const candidate of [A, B, 'short', 'x'.repeat(500)]) {
      spy.mockClear();
      sut.verify(`Bearer ${candidate}`);
      expect(spy).toHaveBeenCalledTimes(2);
      for (const [a, b] of spy.mock.calls) {
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    }
  });

  it('accepts nothing when no token is configured', () => {
    expect(new BearerTokens([]).verify(`Bearer ${A}`).verdict).toBe('invalid');
  });
});

describe('AuditTokenGuard', () => {
  const config = loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: `${A},${B}` });
  /** Reflector answering the route's scope: undefined (read) unless the test says. */
  const reflector = (scope?: string) => ({ getAllAndOverride: () => scope }) as unknown as Reflector;
  const sut = new AuditTokenGuard(configServiceOf(config), reflector());

  function context(authorization?: string) {
    const headers: Record<string, string> = {};
    const req: Record<string | symbol, unknown> = { headers: authorization === undefined ? {} : { authorization } };
    const ctx = {
      getHandler: () => undefined,
      getClass: () => undefined,
      switchToHttp: () => ({
        getRequest: () => req,
        getResponse: () => ({ setHeader: (k: string, v: string) => (headers[k] = v) }),
      }),
    } as unknown as ExecutionContext;
    return { ctx, headers, req };
  }

  it('lets a configured token through and leaves its name on the request', () => {
    const { ctx, req } = context(`Bearer ${B}`);
    expect(sut.canActivate(ctx)).toBe(true);
    expect((req[AUDIT_PRINCIPAL] as { name: string }).name).toBe('AUDIT_API_TOKENS#2');
  });

  it('answers 403 to a known token without the scope of the route', () => {
    const file = `- { name: ro, token: ${A}, scopes: [read], tenants: ["*"] }\n- { name: rw, token: ${B}, scopes: [read, resync], tenants: ["*"] }`;
    const scoped = { ...config, audit: { ...config.audit, tokens: parseAuditTokensFile(file).tokens } };
    const resyncRoute = new AuditTokenGuard(configServiceOf(scoped), reflector('resync'));
    expect(() => resyncRoute.canActivate(context(`Bearer ${A}`).ctx)).toThrow(ForbiddenException);
    expect(resyncRoute.canActivate(context(`Bearer ${B}`).ctx)).toBe(true);
    expect(new AuditTokenGuard(configServiceOf(scoped), reflector()).canActivate(context(`Bearer ${A}`).ctx)).toBe(true);
  });

  it.each([
    [undefined, 'missing bearer token', 'Bearer realm="badge-audit"'],
    [`Basic ${A}`, 'unsupported authorization scheme', 'Bearer realm="badge-audit"'],
    ['Bearer nope-nope-nope-nope', 'invalid token', 'Bearer realm="badge-audit", error="invalid_token"'],
  ])('refuses %j with a 401, a reason and a challenge, never echoing the token', (header, reason, challenge) => {
    const { ctx, headers } = context(header);
    let thrown: unknown;
    try {
      sut.canActivate(ctx);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UnauthorizedException);
    const body = JSON.stringify((thrown as UnauthorizedException).getResponse());
    expect(body).toContain(reason);
    expect(body).not.toContain('nope-nope');
    expect(body).not.toContain(A);
    expect(headers['WWW-Authenticate']).toBe(challenge);
  });
});
