import fc from 'fast-check';
import { MAX_COUNT, MAX_EVENT_BYTES } from './badge-event';
import { decodeEvent, validateEvent } from './decode-event';

const valid = {
  eventId: '3f1c9b2e-8a47-4d0e-9a51-0c6d2f1e7b10',
  userId: 'ou_d317f090b7258ad0372aa53963cda70d',
  userIdType: 'open_id',
  tenantKey: '736588c9260f175d',
  source: 'approval',
  sequence: 1664360599355,
  counts: { pc: { web_app: 1, gadget: 2 }, mobile: { web_app: 1, gadget: 2 } },
  occurredAt: '2026-11-24T08:00:00.000Z',
};
/** `valid` carries a tenantKey, as a store app's events do. */
const STORE = { appType: 'store' } as const;
const CUSTOM = { appType: 'custom' } as const;
const buf = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const rejectionOf = (v: unknown) => {
  const r = decodeEvent(buf(v), STORE);
  if (r.ok) throw new Error('expected a rejection');
  return r.rejection;
};

describe('decodeEvent', () => {
  it('accepts the example from the contract', () => {
    const r = decodeEvent(buf(valid), STORE);
    expect(r.ok && r.event).toEqual({ ...valid, occurredAt: new Date(valid.occurredAt) });
  });

  it('defaults userIdType to open_id, tenantKey to empty, and missing sides and fields to 0', () => {
    const { userIdType, tenantKey, ...rest } = valid;
    const r = decodeEvent(buf({ ...rest, counts: { pc: { gadget: 3 } } }), CUSTOM);
    expect(r.ok && [r.event.userIdType, r.event.tenantKey, r.event.counts]).toEqual([
      'open_id',
      '',
      { pc: { web_app: 0, gadget: 3 }, mobile: { web_app: 0, gadget: 0 } },
    ]);
  });

  it('ignores unknown top-level fields (producers may add them)', () => {
    expect(decodeEvent(buf({ ...valid, traceId: 'x' }), STORE).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{ not json', '$', 'must be JSON'],
    ['an array', [], '$', 'must be a JSON object'],
    ['missing eventId', { ...valid, eventId: undefined }, 'eventId', 'required'],
    ['numeric userId', { ...valid, userId: 42 }, 'userId', 'must be a string'],
    ['over-long userId', { ...valid, userId: 'u'.repeat(129) }, 'userId', 'at most 128 characters'],
    ['bad userIdType', { ...valid, userIdType: 'email' }, 'userIdType', 'one of open_id, union_id, user_id'],
    ['bad source', { ...valid, source: 'Approval!' }, 'source', 'must match ^[a-z0-9][a-z0-9._-]{0,63}$'],
    ['string sequence', { ...valid, sequence: '12' }, 'sequence', `integer 0..${Number.MAX_SAFE_INTEGER}`],
    ['negative sequence', { ...valid, sequence: -1 }, 'sequence', `integer 0..${Number.MAX_SAFE_INTEGER}`],
    ['huge sequence', { ...valid, sequence: 2 ** 53 }, 'sequence', `integer 0..${Number.MAX_SAFE_INTEGER}`],
    ['fractional count', { ...valid, counts: { pc: { web_app: 1.5 } } }, 'counts.pc.web_app', `integer 0..${MAX_COUNT}`],
    ['negative count', { ...valid, counts: { mobile: { gadget: -1 } } }, 'counts.mobile.gadget', `integer 0..${MAX_COUNT}`],
    ['oversize count', { ...valid, counts: { pc: { gadget: MAX_COUNT + 1 } } }, 'counts.pc.gadget', `integer 0..${MAX_COUNT}`],
    ['unknown side', { ...valid, counts: { tablet: {} } }, 'counts.tablet', 'unknown side (allowed: pc, mobile)'],
    ['unknown count field', { ...valid, counts: { pc: { bot: 1 } } }, 'counts.pc.bot', 'unknown field (allowed: web_app, gadget)'],
    ['missing counts', { ...valid, counts: undefined }, 'counts', 'required'],
    ['side not an object', { ...valid, counts: { pc: 3 } }, 'counts.pc', 'must be an object'],
    ['bad date', { ...valid, occurredAt: 'yesterday' }, 'occurredAt', 'ISO-8601 date-time with a time zone'],
    ['impossible date', { ...valid, occurredAt: '2026-13-45T99:00:00Z' }, 'occurredAt', 'a valid date-time'],
  ])('rejects %s, naming the field and the rule', (_name, input, field, rule) => {
    expect(rejectionOf(input)).toMatchObject({ field, rule });
  });

  describe('tenant rules', () => {
    const { tenantKey, ...noTenant } = valid;

    it.each([
      ['a tenantKey', { ...valid, tenantKey }],
      ['a non-string tenantKey', { ...valid, tenantKey: 42 }],
    ])('a custom app refuses an event carrying %s', (_, input) => {
      const r = decodeEvent(buf(input), CUSTOM);
      expect(!r.ok && r.rejection).toMatchObject({ field: 'tenantKey', rule: 'must be absent for a custom app (FEISHU_APP_TYPE=custom)' });
    });

    it('a custom app accepts an event without one (tenant "")', () => {
      for (const input of [noTenant, { ...noTenant, tenantKey: null }, { ...noTenant, tenantKey: '' }]) {
        const r = decodeEvent(buf(input), CUSTOM);
        expect(r.ok && r.event.tenantKey).toBe('');
      }
    });

    it('a store app requires one', () => {
      for (const input of [noTenant, { ...noTenant, tenantKey: null }]) {
        const r = decodeEvent(buf(input), STORE);
        expect(!r.ok && r.rejection).toEqual({ field: 'tenantKey', rule: 'required for a store app (FEISHU_APP_TYPE=store)' });
        expect(!r.ok && r.rejectedFor).toBeUndefined(); // no tenant, so no user to file it under
      }
      expect(decodeEvent(buf({ ...noTenant, tenantKey: '' }), STORE)).toMatchObject({ ok: false, rejection: { field: 'tenantKey', rule: 'must not be empty' } });
      expect(decodeEvent(buf(valid), STORE)).toMatchObject({ ok: true, event: { tenantKey } });
    });

    it("files a custom app's refused event under the user of tenant '', where its history is read", () => {
      const r = decodeEvent(buf(valid), CUSTOM);
      expect(!r.ok && r.rejectedFor).toMatchObject({ userId: valid.userId, tenantKey: '' });
    });
  });

  it('says whose event a refused message was, when the identity itself is readable', () => {
    const r = decodeEvent(buf({ ...valid, sequence: 'one' }), STORE);
    expect(!r.ok && r.rejectedFor).toEqual({ userId: valid.userId, userIdType: 'open_id', tenantKey: valid.tenantKey, eventId: valid.eventId, source: 'approval' });
    const anonymous = decodeEvent(buf({ ...valid, userId: 7 }), STORE);
    expect(!anonymous.ok && anonymous.rejectedFor).toBeUndefined();
  });

  it('rejects a value over 64 KiB before parsing it', () => {
    const big = Buffer.alloc(MAX_EVENT_BYTES + 1, 0x20);
    const r = decodeEvent(big, STORE);
    expect(!r.ok && r.rejection).toEqual({ field: '$', rule: `at most ${MAX_EVENT_BYTES} bytes`, value: String(MAX_EVENT_BYTES + 1) });
  });

  it('rejects an empty value and invalid UTF-8', () => {
    expect(decodeEvent(Buffer.alloc(0), STORE)).toMatchObject({ ok: false, rejection: { rule: 'message has no value' } });
    expect(decodeEvent(null, STORE)).toMatchObject({ ok: false });
    expect(decodeEvent(Buffer.from([0xff, 0xfe, 0x7b]), STORE)).toMatchObject({ ok: false, rejection: { rule: 'must be UTF-8' } });
  });

  it('bounds the excerpt of a bad value', () => {
    const r = rejectionOf({ ...valid, userId: 'x'.repeat(10000) });
    expect(r.value!.length).toBeLessThanOrEqual(121);
  });

  it('gives a storable rejection (no NUL, no lone surrogate) whatever the keys and values held', () => {
    const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    const cases: [unknown, string][] = [
      [{ ...valid, counts: { pc: { '\u0000': 1 } } }, 'counts.pc.\\u0000'],
      [{ ...valid, counts: { '\ud800x': {} } }, 'counts.\\ud800x'],
      [{ ...valid, eventId: 'e\u0000' }, 'eventId'],
      [{ ...valid, userId: `${'x'.repeat(119)}😀${'y'.repeat(20)}` }, 'userId'], // the excerpt's cut splits the pair
    ];
    for (const [input, field] of cases) {
      const r = rejectionOf(input);
      expect(r.field).toBe(field);
      expect(unstorable.test(`${r.field}${r.rule}${r.value ?? ''}`)).toBe(false);
    }
  });

  it('does not name a user whose id Postgres would store as another (a lone surrogate)', () => {
    const r = decodeEvent(buf({ ...valid, userId: 'ou_\ud800', sequence: 'one' }), STORE);
    expect(!r.ok && r.rejectedFor).toBeUndefined();
  });

  it('never throws and accepts exactly what a reference check accepts (property)', () => {
    const count = fc.oneof(fc.integer({ min: -5, max: MAX_COUNT + 5 }), fc.double(), fc.string(), fc.constant(undefined));
    const arbEvent = fc.record({
      eventId: fc.oneof(fc.string({ maxLength: 140 }), fc.integer()),
      userId: fc.oneof(fc.string({ maxLength: 140 }), fc.constant(undefined)),
      source: fc.oneof(fc.constantFrom('approval', 'task', 'a.b-c_d'), fc.string()),
      sequence: fc.oneof(fc.maxSafeNat(), fc.integer({ min: -10, max: -1 }), fc.double()),
      counts: fc.record({ pc: fc.record({ web_app: count, gadget: count }), mobile: fc.record({ web_app: count }) }),
      occurredAt: fc.oneof(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(8e15) }).map((d) => d.toISOString()), fc.string()),
    });
    fc.assert(
      fc.property(arbEvent, (ev) => {
        const r = validateEvent(ev, CUSTOM);
        const countsOk = [ev.counts.pc.web_app, ev.counts.pc.gadget, ev.counts.mobile.web_app].every(
          (n) => n === undefined || (Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_COUNT),
        );
        const idOk = (s: unknown) => typeof s === 'string' && s.length > 0 && s.length <= 128 && !/[\u0000-\u001f\u007f]/.test(s);
        const expected =
          idOk(ev.eventId) &&
          idOk(ev.userId) &&
          /^[a-z0-9][a-z0-9._-]{0,63}$/.test(ev.source) &&
          Number.isSafeInteger(ev.sequence) &&
          (ev.sequence as number) >= 0 &&
          countsOk &&
          !Number.isNaN(Date.parse(ev.occurredAt)) &&
          /^\d{4}-/.test(ev.occurredAt);
        expect(r.ok).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(typeof decodeEvent(bytes, CUSTOM).ok).toBe('boolean');
      }),
    );
  });

  it('survives pathologically deep JSON', () => {
    const deep = '['.repeat(200000) + ']'.repeat(200000);
    expect(decodeEvent(Buffer.from(deep), CUSTOM).ok).toBe(false);
  });
});
