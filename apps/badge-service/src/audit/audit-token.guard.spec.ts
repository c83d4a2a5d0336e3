import crypto from 'node:crypto';
import { ExecutionContext, UnauthorizedException } from '@nestjs/common';
import { loadConfig } from '@badges/config';
import { AuditTokenGuard, BearerTokens } from './audit-token.guard';

const A = 'token-aaaaaaaaaaaaaaaaaaaa';
const B = 'token-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

describe('BearerTokens', () => {
  const sut = new BearerTokens([A, B]);
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
    expect(sut.verify(header)).toBe(verdict);
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
    expect(new BearerTokens([]).verify(`Bearer ${A}`)).toBe('invalid');
  });
});

describe('AuditTokenGuard', () => {
  const config = loadConfig({ BADGE_ROLES: 'api', AUDIT_API_TOKENS: `${A},${B}` });
  const sut = new AuditTokenGuard(config);

  function context(authorization?: string) {
    const headers: Record<string, string> = {};
    const ctx = {
      switchToHttp: () => ({
        getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }),
        getResponse: () => ({ setHeader: (k: string, v: string) => (headers[k] = v) }),
      }),
    } as unknown as ExecutionContext;
    return { ctx, headers };
  }

  it('lets a configured token through', () => {
    expect(sut.canActivate(context(`Bearer ${B}`).ctx)).toBe(true);
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
