import { inspect } from 'node:util';
import fc from 'fast-check';
import { CustomAppTokenProvider } from './custom-app-token.provider';
import { FeishuAuthError, REDACTED, redact } from './feishu-auth.error';
import { FEISHU_PATH, MAX_MSG_LENGTH } from './feishu.constants';
import type { HttpPostResult } from './http.transport';
import { StoreAppTokenProvider } from './store-app-token.provider';
import { FakeClock } from './testing/fake-clock';
import { jsonResponse, networkError, StrictFakeTransport } from './testing/strict-fake-transport';

// Realistic credentials: long enough that they cannot occur by chance in the fixed wording of an error.
const credential = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'), minLength: 16, maxLength: 48 });

function renderings(error: unknown): string[] {
  const e = error as Error;
  return [e.message, String(e), JSON.stringify(e), e.stack ?? '', inspect(e)];
}

function expectFree(error: unknown, secrets: string[]): void {
  expect(error).toBeInstanceOf(FeishuAuthError);
  for (const text of renderings(error)) {
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

/** Failure answers that echo whatever they are given, as a careless proxy or server might. */
const echoingFailures = (echo: string): HttpPostResult[] => [
  jsonResponse(400, { code: 10014, msg: `bad credentials ${echo}` }, { 'x-tt-logid': echo }),
  jsonResponse(400, { code: 10014, error: { message: echo, log_id: echo } }),
  jsonResponse(429, { code: 99991400, msg: echo }),
  jsonResponse(503, { code: 1, msg: echo }),
  jsonResponse(200, { code: 0, msg: echo, expire: 7200 }),
  jsonResponse(200, null, { 'x-tt-logid': echo }),
  networkError('network'),
  networkError('timeout'),
];

describe('FeishuAuthError', () => {
  it('carries the classified fields and renders them in its message', () => {
    const error = new FeishuAuthError({ reason: 'rejected', endpoint: '/p', code: 10014, msg: 'app secret invalid', logId: 'log-1', httpStatus: 400 });

    expect(error).toMatchObject({ name: 'FeishuAuthError', reason: 'rejected', endpoint: '/p', code: 10014, msg: 'app secret invalid', logId: 'log-1', httpStatus: 400 });
    expect(error.message).toBe('Feishu token request failed (rejected) at /p: code=10014 httpStatus=400 logId=log-1 msg=app secret invalid');
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: 'FeishuAuthError', code: 10014, logId: 'log-1' });
  });

  describe('redact', () => {
    it('replaces every occurrence, longest secret first', () => {
      expect(redact('a SECRET-LONG b SECRET c', ['SECRET', 'SECRET-LONG'])).toBe(`a ${REDACTED} b ${REDACTED} c`);
    });

    it('ignores empty secrets', () => {
      expect(redact('text', [''])).toBe('text');
    });

    it('drops the text when a secret overlaps the placeholder', () => {
      expect(redact('x dact y', ['dact'])).toBe(REDACTED);
    });

    it('clips long text', () => {
      expect(redact('x'.repeat(MAX_MSG_LENGTH * 2), []).length).toBe(MAX_MSG_LENGTH + 1);
    });

    it('never leaves a secret in the result', () => {
      fc.assert(
        fc.property(fc.string(), fc.array(fc.string({ minLength: 1 }), { maxLength: 3 }), (text, secrets) => {
          const out = redact(text + secrets.join(text), secrets);
          for (const secret of secrets) {
            // A secret inside the placeholder itself ("dact") can only be handled by dropping the text.
            if (out !== REDACTED) expect(out).not.toContain(secret);
          }
        }),
      );
    });
  });

  describe('secrets never reach a token error', () => {
    it('custom app: the app secret', async () => {
      await fc.assert(
        fc.asyncProperty(credential, fc.nat({ max: 7 }), async (secret, which) => {
          const answer = echoingFailures(secret)[which]!;
          const transport = new StrictFakeTransport().on(FEISHU_PATH.TENANT_ACCESS_TOKEN_INTERNAL, answer);
          const sut = new CustomAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_app', appSecret: secret }, new FakeClock());

          expectFree(await sut.getToken('').catch((e: unknown) => e), [secret]);
          transport.verify();
        }),
      );
    });

    it('store app: secret and ticket at app_access_token, including 10012', async () => {
      await fc.assert(
        fc.asyncProperty(credential, credential, fc.nat({ max: 8 }), async (secret, ticket, which) => {
          const echo = `${secret} ${ticket}`;
          const answer = [...echoingFailures(echo), jsonResponse(400, { code: 10012, msg: `ticket ${echo}` }, { 'x-tt-logid': echo })][which]!;
          const transport = new StrictFakeTransport().on(FEISHU_PATH.APP_ACCESS_TOKEN, answer).always(FEISHU_PATH.APP_TICKET_RESEND, jsonResponse(200, { code: 0 }));
          const sut = new StoreAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_store', appSecret: secret }, new FakeClock());
          sut.setAppTicket(ticket);

          expectFree(await sut.getToken('tenant-a').catch((e: unknown) => e), [secret, ticket]);
          transport.verify();
        }),
      );
    });

    it('store app: secret, ticket and app_access_token at tenant_access_token', async () => {
      await fc.assert(
        fc.asyncProperty(credential, credential, credential, fc.nat({ max: 7 }), async (secret, ticket, appToken, which) => {
          const echo = `${secret} ${ticket} ${appToken}`;
          const transport = new StrictFakeTransport()
            .on(FEISHU_PATH.APP_ACCESS_TOKEN, jsonResponse(200, { code: 0, app_access_token: appToken, expire: 7200 }))
            .on(FEISHU_PATH.TENANT_ACCESS_TOKEN, echoingFailures(echo)[which]!);
          const sut = new StoreAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_store', appSecret: secret }, new FakeClock());
          sut.setAppTicket(ticket);

          expectFree(await sut.getToken('tenant-a').catch((e: unknown) => e), [secret, ticket, appToken]);
          transport.verify();
        }),
      );
    });

    it('store app: secret at app_ticket/resend', async () => {
      await fc.assert(
        // Index 4 is a code-0 answer, which is a success for a resend.
        fc.asyncProperty(credential, fc.constantFrom(0, 1, 2, 3, 5, 6, 7), async (secret, which) => {
          const transport = new StrictFakeTransport().on(FEISHU_PATH.APP_TICKET_RESEND, echoingFailures(secret)[which]!);
          const sut = new StoreAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_store', appSecret: secret }, new FakeClock());

          expectFree(await sut.requestAppTicket().catch((e: unknown) => e), [secret]);
          transport.verify();
        }),
      );
    });

    it('the providers do not expose the secret when logged or serialised', () => {
      fc.assert(
        fc.property(credential, (secret) => {
          const transport = new StrictFakeTransport();
          const providers = [
            new CustomAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_app', appSecret: secret }),
            new StoreAppTokenProvider(transport, { baseUrl: 'http://feishu.test', appId: 'cli_app', appSecret: secret }),
          ];
          for (const provider of providers) {
            expect(JSON.stringify(provider)).not.toContain(secret);
            expect(inspect(provider, { depth: 5 })).not.toContain(secret);
          }
        }),
      );
    });
  });
});
