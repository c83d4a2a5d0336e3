import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeEventCallback, decryptEventBody, SIGNATURE_MAX_SKEW_MS, verifyEventSignature } from './feishu-event-callback';

const TOKEN = 'verification-token-123';
const KEY = 'encrypt-key-456';

/** Test-side counterpart of Feishu's scheme: random IV, AES-256-CBC with sha256(key), base64(iv ‖ ciphertext). */
function encrypt(plaintext: string, key: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', createHash('sha256').update(key, 'utf8').digest(), iv);
  return Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

const challenge = (token = TOKEN) => ({ challenge: 'ajls384kdjx98XX', token, type: 'url_verification' });
const ticketV1 = (token = TOKEN) => ({
  uuid: 'b6e9a4c0',
  token,
  ts: '1502199207.7171419',
  type: 'event_callback',
  event: { app_id: 'cli_xxx', app_ticket: 'ticket-abc', type: 'app_ticket' },
});
const ticketV2 = (token = TOKEN) => ({
  schema: '2.0',
  header: { event_id: 'e1', event_type: 'app_ticket', create_time: '1608725989000', token, app_id: 'cli_xxx', tenant_key: 't1' },
  event: { app_id: 'cli_xxx', app_ticket: 'ticket-v2', type: 'app_ticket' },
});

describe('decodeEventCallback', () => {
  const plainOpts = { verificationToken: TOKEN };

  it('answers the url_verification challenge', () => {
    expect(decodeEventCallback(challenge(), plainOpts)).toEqual({ kind: 'challenge', challenge: 'ajls384kdjx98XX' });
  });

  it('decodes a v1 app_ticket event', () => {
    expect(decodeEventCallback(ticketV1(), plainOpts)).toEqual({ kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-abc', eventId: 'b6e9a4c0', createdAtMs: 1502199207717 });
  });

  it('decodes a v2 app_ticket event', () => {
    expect(decodeEventCallback(ticketV2(), plainOpts)).toEqual({ kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-v2', eventId: 'e1', createdAtMs: 1608725989000 });
  });

  it('takes the v2 app id from the event when the header lacks it', () => {
    const body = ticketV2();
    const { app_id: _dropped, ...header } = body.header;
    expect(decodeEventCallback({ ...body, header }, plainOpts)).toEqual({ kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-v2', eventId: 'e1', createdAtMs: 1608725989000 });
  });

  it.each([
    ['v1', { ...ticketV1(), event: { type: 'app_open', app_id: 'cli_xxx' } }, 'app_open', { eventId: 'b6e9a4c0', createdAtMs: 1502199207717 }],
    ['v2', { ...ticketV2(), header: { ...ticketV2().header, event_type: 'im.message.receive_v1' } }, 'im.message.receive_v1', { eventId: 'e1', createdAtMs: 1608725989000 }],
  ])('ignores other %s events, keeping their id and time', (_schema, body, eventType, meta) => {
    expect(decodeEventCallback(body, plainOpts)).toEqual({ kind: 'ignored', eventType, ...meta });
  });

  it.each([
    ['no id and no time', { uuid: undefined, ts: undefined }, {}],
    ['an over-long id', { uuid: 'x'.repeat(129) }, { createdAtMs: 1502199207717 }],
    ['a time that is not a number', { ts: 'yesterday' }, { eventId: 'b6e9a4c0' }],
  ])('leaves out what is unusable of the event id and time: %s', (_name, patch, meta) => {
    expect(decodeEventCallback({ ...ticketV1(), ...patch }, plainOpts)).toEqual({ kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-abc', ...meta });
  });

  it('accepts the body as text or bytes', () => {
    expect(decodeEventCallback(JSON.stringify(ticketV1()), plainOpts)).toMatchObject({ kind: 'app_ticket' });
    expect(decodeEventCallback(Buffer.from(JSON.stringify(ticketV2())), plainOpts)).toMatchObject({ kind: 'app_ticket' });
  });

  describe('verification token', () => {
    it.each([
      ['challenge', challenge('wrong')],
      ['v1 event', ticketV1('wrong')],
      ['v2 event', ticketV2('wrong')],
      ['longer token', ticketV1(`${TOKEN}x`)],
      ['missing token', { ...challenge(), token: undefined }],
      ['non-string token', { ...challenge(), token: 123 }],
    ])('rejects a %s with a bad token', (_name, body) => {
      expect(decodeEventCallback(body, plainOpts)).toEqual({ kind: 'rejected', reason: 'bad_token' });
    });

    it('is not checked when none is configured', () => {
      expect(decodeEventCallback(ticketV1('anything'), {})).toMatchObject({ kind: 'app_ticket' });
    });
  });

  it.each([
    ['null', null],
    ['an array', [1]],
    ['a number', 42],
    ['undefined', undefined],
    ['text that is not JSON', '{nope'],
    ['no type', { token: TOKEN }],
    ['a challenge without challenge', { type: 'url_verification', token: TOKEN }],
    ['an event without event', { type: 'event_callback', token: TOKEN }],
    ['an app_ticket without ticket', { ...ticketV1(), event: { type: 'app_ticket', app_id: 'cli_xxx' } }],
    ['an app_ticket with an empty ticket', { ...ticketV1(), event: { type: 'app_ticket', app_id: 'cli_xxx', app_ticket: '' } }],
    ['an app_ticket without app id', { ...ticketV1(), event: { type: 'app_ticket', app_ticket: 't' } }],
    ['a v2 body without header', { schema: '2.0', event: {} }],
    ['a v2 body without event_type', { schema: '2.0', header: { token: TOKEN } }],
    ['a v2 app_ticket without event', { schema: '2.0', header: { token: TOKEN, event_type: 'app_ticket', app_id: 'cli_xxx' } }],
  ])('rejects %s as malformed', (_name, body) => {
    expect(decodeEventCallback(body, plainOpts)).toEqual({ kind: 'rejected', reason: 'malformed' });
  });

  describe('encrypted bodies', () => {
    const opts = { verificationToken: TOKEN, encryptKey: KEY };

    it.each([
      ['challenge', challenge(), { kind: 'challenge', challenge: 'ajls384kdjx98XX' }],
      ['v1 app_ticket', ticketV1(), { kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-abc', eventId: 'b6e9a4c0', createdAtMs: 1502199207717 }],
      ['v2 app_ticket', ticketV2(), { kind: 'app_ticket', appId: 'cli_xxx', ticket: 'ticket-v2', eventId: 'e1', createdAtMs: 1608725989000 }],
    ])('round-trips a %s', (_name, body, expected) => {
      expect(decodeEventCallback({ encrypt: encrypt(JSON.stringify(body), KEY) }, opts)).toEqual(expected);
    });

    it('still checks the token inside', () => {
      expect(decodeEventCallback({ encrypt: encrypt(JSON.stringify(ticketV1('wrong')), KEY) }, opts)).toEqual({ kind: 'rejected', reason: 'bad_token' });
    });

    it.each([
      ['another key', { encrypt: encrypt(JSON.stringify(ticketV1()), 'other-key') }],
      ['garbage', { encrypt: 'not base64 at all' }],
      ['too short', { encrypt: randomBytes(16).toString('base64') }],
      ['not a block multiple', { encrypt: randomBytes(40).toString('base64') }],
      ['encrypted non-JSON', { encrypt: encrypt('hello world', KEY) }],
    ])('rejects %s as undecryptable', (_name, body) => {
      expect(decodeEventCallback(body, opts)).toEqual({ kind: 'rejected', reason: 'undecryptable' });
    });

    it('rejects a non-string encrypt as malformed', () => {
      expect(decodeEventCallback({ encrypt: 42 }, opts)).toEqual({ kind: 'rejected', reason: 'malformed' });
    });

    it('rejects an encrypted body when no key is configured', () => {
      expect(decodeEventCallback({ encrypt: encrypt(JSON.stringify(ticketV1()), KEY) }, plainOpts)).toEqual({ kind: 'rejected', reason: 'encrypt_key_missing' });
    });

    it('rejects a plaintext body when a key is configured', () => {
      expect(decodeEventCallback(ticketV1(), opts)).toEqual({ kind: 'rejected', reason: 'not_encrypted' });
    });

    it('round-trips any ticket under any key', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (key, appId, ticket) => {
          const body = { ...ticketV1(), event: { type: 'app_ticket', app_id: appId, app_ticket: ticket } };
          expect(decodeEventCallback({ encrypt: encrypt(JSON.stringify(body), key) }, { verificationToken: TOKEN, encryptKey: key })).toEqual({ kind: 'app_ticket', appId, ticket, eventId: 'b6e9a4c0', createdAtMs: 1502199207717 });
        }),
      );
    });
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.jsonValue(), fc.record({ encrypt: fc.string() })), fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (body, verificationToken, encryptKey) => {
        const result = decodeEventCallback(body, { verificationToken, encryptKey });
        expect(['challenge', 'app_ticket', 'ignored', 'rejected']).toContain(result.kind);
      }),
    );
  });
});

describe('decryptEventBody', () => {
  it("decrypts the example from Feishu's documentation", () => {
    expect(decryptEventBody('P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=', 'test key')).toBe('hello world');
  });

  it("matches the official SDK's AESCipher", () => {
    // Loaded untyped: its declaration file is large and only this one class is needed.
    const sdk = require('@larksuiteoapi/node-sdk') as { AESCipher: new (key: string) => { decrypt(encrypt: string): string } };
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (key, plaintext) => {
        const encrypted = encrypt(plaintext, key);
        expect(decryptEventBody(encrypted, key)).toBe(new sdk.AESCipher(key).decrypt(encrypted));
        expect(decryptEventBody(encrypted, key)).toBe(plaintext);
      }),
    );
  });
});

describe('verifyEventSignature', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const ts = String(now / 1000);
  const body = Buffer.from(JSON.stringify({ encrypt: 'AAAA' }));
  const sign = (timestamp: string, nonce: string, key: string, raw: Buffer) => createHash('sha256').update(timestamp + nonce + key).update(raw).digest('hex');
  const req = (over: Partial<{ timestamp: string; nonce: string; signature: string; rawBody: Buffer }> = {}) => ({
    timestamp: ts,
    nonce: 'n0nce',
    signature: sign(ts, 'n0nce', KEY, body),
    rawBody: body,
    ...over,
  });

  it('accepts the signature Feishu computes: sha256 hex of timestamp + nonce + encrypt key + raw body', () => {
    expect(verifyEventSignature(req(), KEY, now)).toBe('ok');
    expect(verifyEventSignature(req({ signature: sign(ts, 'n0nce', KEY, body).toUpperCase() }), KEY, now)).toBe('ok');
  });

  it("matches the emulator's signing of a real body with multi-byte characters", () => {
    const raw = Buffer.from('{"encrypt":"é€𝄞"}', 'utf8');
    expect(verifyEventSignature(req({ rawBody: raw, signature: createHash('sha256').update(ts + 'n0nce' + KEY + raw.toString('utf8')).digest('hex') }), KEY, now)).toBe('ok');
  });

  it.each([
    ['another key', { signature: sign(ts, 'n0nce', 'other-key', body) }],
    ['another nonce', { nonce: 'other' }],
    ['another timestamp', { timestamp: String(now / 1000 + 1) }],
    ['a body re-serialised with a space', { rawBody: Buffer.from('{"encrypt": "AAAA"}') }],
    ['a truncated signature', { signature: sign(ts, 'n0nce', KEY, body).slice(0, 63) }],
    ['garbage', { signature: 'not-hex' }],
  ])('refuses %s', (_name, over) => {
    expect(verifyEventSignature(req(over), KEY, now)).toBe('bad_signature');
  });

  it.each([
    ['no signature', { signature: '' }],
    ['no timestamp', { timestamp: '' }],
  ])('calls a request with %s unsigned', (_name, over) => {
    expect(verifyEventSignature(req(over), KEY, now)).toBe('unsigned');
  });

  it('refuses a correctly signed request more than 5 minutes off, either way', () => {
    for (const offsetS of [-301, 301, -86400]) {
      const t = String(now / 1000 + offsetS);
      expect({ offsetS, verdict: verifyEventSignature(req({ timestamp: t, signature: sign(t, 'n0nce', KEY, body) }), KEY, now) }).toEqual({ offsetS, verdict: 'stale_timestamp' });
    }
    for (const offsetS of [-300, 0, 300]) {
      const t = String(now / 1000 + offsetS);
      expect({ offsetS, verdict: verifyEventSignature(req({ timestamp: t, signature: sign(t, 'n0nce', KEY, body) }), KEY, now) }).toEqual({ offsetS, verdict: 'ok' });
    }
    expect(SIGNATURE_MAX_SKEW_MS).toBe(300_000);
    const odd = '1764590400.5';
    expect(verifyEventSignature(req({ timestamp: odd, signature: sign(odd, 'n0nce', KEY, body) }), KEY, now)).toBe('stale_timestamp');
  });

  it('compares in constant time: sha256 digests of equal length, whatever the header', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto');
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      for (const signature of ['x', sign(ts, 'n0nce', KEY, body), 'y'.repeat(500)]) {
        spy.mockClear();
        verifyEventSignature(req({ signature }), KEY, now);
        expect(spy).toHaveBeenCalledTimes(1);
        expect(spy.mock.calls[0].map((b) => (b as Buffer).length)).toEqual([32, 32]);
      }
    } finally {
      spy.mockRestore();
    }
  });
});
