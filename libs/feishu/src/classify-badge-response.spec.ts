import fc from 'fast-check';
import { BADGE_OUTCOMES, type BadgeOutcome, classifyBadgeResponse, parseLatestVersion, retryAfterMs } from './classify-badge-response';
import { MAX_MSG_LENGTH, MAX_RATE_LIMIT_RETRY_MS } from './feishu.constants';
import type { HttpHeaders } from './http.transport';
import { jsonResponse, networkError } from './testing/strict-fake-transport';

const feishu = (status: number, code: number, msg = 'msg', headers: HttpHeaders = {}) => classifyBadgeResponse(jsonResponse(status, { code, msg, data: {} }, headers));

const anyStatus = fc.integer({ min: 100, max: 599 });
const anyHeaders = fc.dictionary(fc.oneof(fc.constantFrom('x-tt-logid', 'x-ogw-ratelimit-reset', 'X-Ogw-Ratelimit-Reset', 'content-type'), fc.string()), fc.string());
const anyBody = fc.oneof(
  fc.constant(null),
  fc.anything(),
  fc.jsonValue(),
  fc.record({ code: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constantFrom(0, 213001, 99991663, 99991400)), msg: fc.oneof(fc.string(), fc.anything()) }, { requiredKeys: [] }),
);

describe('classifyBadgeResponse', () => {
  it.each<[number, number, BadgeOutcome]>([
    [200, 0, 'applied'],
    [400, 213001, 'version_conflict'],
    [400, 213002, 'version_conflict'],
    [400, 213003, 'no_data'],
    [400, 213004, 'concurrent'],
    [400, 213005, 'invalid_version'],
    [400, 213006, 'user_invalid'],
    [400, 213007, 'user_invisible'],
    [400, 99991661, 'auth'],
    [400, 99991663, 'auth'],
    [200, 99991663, 'auth'],
    [401, 99991664, 'auth'],
    [400, 99991671, 'auth'],
    [400, 99991400, 'rate_limited'],
    [429, 99991400, 'rate_limited'],
    [400, 1234, 'unexpected'],
    [200, 1234, 'unexpected'],
    [400, 0, 'unexpected'],
    [500, 0, 'transient'],
    [503, 213004, 'transient'],
  ])('HTTP %i code %i → %s', (status, code, outcome) => {
    expect(feishu(status, code)).toMatchObject({ outcome, code, httpStatus: status, msg: 'msg' });
  });

  it('reports a network error as transient', () => {
    expect(classifyBadgeResponse(networkError('network', 'network error: ECONNREFUSED'))).toEqual({
      outcome: 'transient',
      code: null,
      httpStatus: null,
      msg: 'network error: ECONNREFUSED',
      logId: null,
    });
  });

  it('reports a timeout as transient', () => {
    expect(classifyBadgeResponse(networkError('timeout', 'timed out after 5000 ms'))).toMatchObject({ outcome: 'transient', msg: 'timed out after 5000 ms' });
  });

  it.each([
    [502, null, 'transient'],
    [504, null, 'transient'],
    [200, null, 'unexpected'],
    [404, null, 'unexpected'],
    [200, {}, 'unexpected'],
    [200, { code: '0' }, 'unexpected'],
    [200, [0], 'unexpected'],
  ])('HTTP %i body %j → %s', (status, json, outcome) => {
    expect(classifyBadgeResponse(jsonResponse(status, json))).toMatchObject({ outcome, code: null, httpStatus: status });
  });

  it('describes a non-JSON body in msg', () => {
    expect(classifyBadgeResponse(jsonResponse(502, null)).msg).toBe('HTTP 502 with a non-JSON body');
  });

  describe('logId', () => {
    it('comes from x-tt-logid', () => {
      expect(feishu(400, 213003, 'no data', { 'x-tt-logid': 'log-h' }).logId).toBe('log-h');
    });

    it('falls back to error.log_id', () => {
      const res = classifyBadgeResponse(jsonResponse(400, { code: 213003, msg: 'no data', error: { log_id: 'log-b' } }));
      expect(res.logId).toBe('log-b');
    });

    it('prefers the header', () => {
      const res = classifyBadgeResponse(jsonResponse(400, { code: 213003, error: { log_id: 'log-b' } }, { 'x-tt-logid': 'log-h' }));
      expect(res.logId).toBe('log-h');
    });

    it('is null when absent', () => {
      expect(feishu(200, 0).logId).toBeNull();
    });
  });

  it('uses error.message when msg is absent', () => {
    expect(classifyBadgeResponse(jsonResponse(400, { code: 213005, error: { message: 'invalid version' } })).msg).toBe('invalid version');
  });

  describe('version conflicts', () => {
    it.each([
      ['pc version conflict, latest version: 1664360599999', '1664360599999'],
      ['mobile version conflict. Latest Version is 1664360599999.', '1664360599999'],
      ['conflict {"latest_version":"1664360599999"}', '1664360599999'],
      ['conflict latest-version=42', '42'],
      ['conflict latestVersion:7', '7'],
    ])('parses the latest version from %j', (msg, latest) => {
      expect(feishu(400, 213001, msg)).toMatchObject({ outcome: 'version_conflict', latestVersion: latest });
    });

    it.each(['pc version conflict', 'latest version: unknown', 'version: 1664360599999', ''])('leaves latestVersion absent for %j', (msg) => {
      const res = feishu(400, 213002, msg);
      expect(res.outcome).toBe('version_conflict');
      expect(res).not.toHaveProperty('latestVersion');
    });

    it('also reads error.message', () => {
      const res = classifyBadgeResponse(jsonResponse(400, { code: 213001, error: { message: 'latest version: 99' } }));
      expect(res.latestVersion).toBe('99');
    });

    it('only parses for conflicts', () => {
      expect(feishu(400, 213005, 'latest version: 5')).not.toHaveProperty('latestVersion');
    });
  });

  describe('rate limits', () => {
    it('takes the wait from x-ogw-ratelimit-reset seconds', () => {
      expect(feishu(429, 99991400, 'limit', { 'x-ogw-ratelimit-reset': '7' })).toMatchObject({ outcome: 'rate_limited', retryAfterMs: 7000 });
    });

    it.each<[HttpHeaders, number]>([
      [{}, 1000],
      [{ 'x-ogw-ratelimit-reset': '' }, 1000],
      [{ 'x-ogw-ratelimit-reset': 'soon' }, 1000],
      [{ 'x-ogw-ratelimit-reset': '-3' }, 1000],
      [{ 'x-ogw-ratelimit-reset': '1e3' }, 1000],
      [{ 'x-ogw-ratelimit-reset': '0.25' }, 250],
      [{ 'x-ogw-ratelimit-reset': '0' }, 0],
      [{ 'x-ogw-ratelimit-reset': ' 2 ' }, 2000],
      [{ 'x-ogw-ratelimit-reset': '3, 4' }, 3000],
      [{ 'X-Ogw-Ratelimit-Reset': '5' }, 5000],
      [{ 'x-ogw-ratelimit-reset': '3600' }, MAX_RATE_LIMIT_RETRY_MS],
    ])('headers %j → %i ms', (headers, ms) => {
      expect(retryAfterMs(headers)).toBe(ms);
    });

    it('caps a reset too large for a double', () => {
      expect(retryAfterMs({ 'x-ogw-ratelimit-reset': '9'.repeat(400) })).toBe(MAX_RATE_LIMIT_RETRY_MS);
    });

    it('treats a 429 without a JSON body as rate limited', () => {
      expect(classifyBadgeResponse(jsonResponse(429, null))).toMatchObject({ outcome: 'rate_limited', retryAfterMs: 1000, code: null });
    });

    it('sets retryAfterMs only when rate limited', () => {
      expect(feishu(400, 213004)).not.toHaveProperty('retryAfterMs');
    });
  });

  it('clips an overlong msg', () => {
    expect(feishu(400, 1, 'x'.repeat(10_000)).msg.length).toBeLessThanOrEqual(MAX_MSG_LENGTH + 1);
  });

  describe('properties', () => {
    it('is total: any status, headers and body give a well-formed classification', () => {
      fc.assert(
        fc.property(fc.oneof(anyStatus, fc.integer()), anyHeaders, anyBody, (status, headers, json) => {
          const res = classifyBadgeResponse({ kind: 'response', status, headers, json });
          expect(BADGE_OUTCOMES).toContain(res.outcome);
          expect(typeof res.msg).toBe('string');
          expect(res.msg.length).toBeLessThanOrEqual(MAX_MSG_LENGTH + 1);
          expect(res.httpStatus).toBe(status);
          expect(res.code === null || Number.isSafeInteger(res.code)).toBe(true);
          expect(res.logId === null || typeof res.logId === 'string').toBe(true);
        }),
        { numRuns: 2000 },
      );
    });

    it('any 5xx is transient', () => {
      fc.assert(
        fc.property(fc.integer({ min: 500, max: 599 }), anyHeaders, anyBody, (status, headers, json) => {
          expect(classifyBadgeResponse({ kind: 'response', status, headers, json }).outcome).toBe('transient');
        }),
      );
    });

    it('any 429 is rate limited with a wait between 0 and the cap', () => {
      fc.assert(
        fc.property(anyHeaders, anyBody, (headers, json) => {
          const res = classifyBadgeResponse({ kind: 'response', status: 429, headers, json });
          expect(res.outcome).toBe('rate_limited');
          expect(res.retryAfterMs).toBeGreaterThanOrEqual(0);
          expect(res.retryAfterMs).toBeLessThanOrEqual(MAX_RATE_LIMIT_RETRY_MS);
        }),
      );
    });

    it('any network failure is transient', () => {
      fc.assert(
        fc.property(fc.constantFrom('timeout' as const, 'network' as const), fc.string(), (reason, message) => {
          expect(classifyBadgeResponse({ kind: 'network_error', reason, message }).outcome).toBe('transient');
        }),
      );
    });

    it('an auth code is auth at any status that is neither 429 nor 5xx', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 100, max: 499 }).filter((s) => s !== 429),
          fc.constantFrom(99991661, 99991663, 99991664, 99991671),
          (status, code) => {
            expect(feishu(status, code).outcome).toBe('auth');
          },
        ),
      );
    });

    it('a latest version, when given, is digits only', () => {
      fc.assert(
        fc.property(fc.string(), fc.option(fc.stringMatching(/^\d{1,20}$/)), fc.string(), (before, digits, after) => {
          const msg = digits === null ? `${before}${after}` : `${before} latest version: ${digits}${after}`;
          const latest = parseLatestVersion({ code: 213001, msg });
          if (latest !== undefined) expect(latest).toMatch(/^\d+$/);
        }),
      );
    });

    it('finds the version in "latest version: N" whatever surrounds it', () => {
      fc.assert(
        fc.property(fc.string().filter((s) => !/latest/i.test(s)), fc.stringMatching(/^[1-9]\d{0,19}$/), fc.constantFrom('', '.', ' (retry)', ', please retry'), (prefix, digits, suffix) => {
          expect(parseLatestVersion({ msg: `${prefix} latest version: ${digits}${suffix}` })).toBe(digits);
        }),
      );
    });
  });
});

describe('classifyBadgeResponse: answers the transport did not read', () => {
  it('a redirect is unexpected, and says it was not followed', () => {
    expect(classifyBadgeResponse({ kind: 'response', status: 302, headers: { location: 'https://elsewhere.test/' }, json: null })).toMatchObject({
      outcome: 'unexpected',
      httpStatus: 302,
      msg: 'HTTP 302: a redirect (not followed)',
    });
  });

  it('a body over the limit is unexpected on 200, and keeps the meaning of a 5xx or 429', () => {
    const big = (status: number) => classifyBadgeResponse({ kind: 'response', status, headers: {}, json: null, bodyTooLarge: true });
    expect(big(200)).toMatchObject({ outcome: 'unexpected', msg: 'HTTP 200 with a body over the size limit (not read)' });
    expect(big(503).outcome).toBe('transient');
    expect(big(429).outcome).toBe('rate_limited');
  });
});
