import fc from 'fast-check';
import { decodeHistoryCursor, decodeSourcesCursor, decodeStatusCursor, encodeHistoryCursor, encodeSourcesCursor, encodeStatusCursor } from './audit-cursor';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('audit cursors', () => {
  it('round-trip a history position with microseconds and a 64-bit id', () => {
    const p = { at: '2026-11-24T08:00:00.123456Z', id: '9223372036854775807' };
    const c = encodeHistoryCursor(p);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeHistoryCursor(c)).toEqual(p);
  });

  it('round-trip any status position, ids of any characters included', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('pending', 'in_sync', 'backing_off', 'parked' as const),
        fc.string({ maxLength: 128 }),
        fc.constantFrom('open_id', 'union_id', 'user_id'),
        fc.string({ minLength: 1, maxLength: 128 }),
        (status, tenantKey, userIdType, userId) => {
          const key = { tenantKey, userIdType, userId };
          expect(decodeStatusCursor(encodeStatusCursor(status, key), status)).toEqual(key);
        },
      ),
    );
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['not JSON', b64('{nope')],
    ['an object', b64({ at: '2026-11-24T08:00:00.123456Z', id: '1' })],
    ['a status cursor', encodeStatusCursor('pending', { tenantKey: '', userIdType: 'open_id', userId: 'u' })],
    ['millisecond precision', b64(['h', '2026-11-24T08:00:00.123Z', '1'])],
    ['an impossible time', b64(['h', '2026-13-45T08:00:00.123456Z', '1'])],
    ['a negative id', b64(['h', '2026-11-24T08:00:00.123456Z', '-1'])],
    ['an id beyond bigint', b64(['h', '2026-11-24T08:00:00.123456Z', '9223372036854775808'])],
    ['a numeric id', b64(['h', '2026-11-24T08:00:00.123456Z', 1])],
    ['SQL', b64(['h', "2026-11-24' OR 1=1 --", '1'])],
    ['too long', 'A'.repeat(2000)],
    ['not a string', 42],
  ])('refuse a history cursor that is %s', (_, c) => {
    expect(decodeHistoryCursor(c)).toBeNull();
  });

  it.each([
    ['of another status', encodeStatusCursor('parked', { tenantKey: '', userIdType: 'open_id', userId: 'u' })],
    ['a history cursor', encodeHistoryCursor({ at: '2026-11-24T08:00:00.123456Z', id: '1' })],
    ['of an unknown id type', b64(['s', 'pending', '', 'email', 'u'])],
    ['with an over-long id', b64(['s', 'pending', '', 'open_id', 'u'.repeat(129)])],
    ['missing a part', b64(['s', 'pending', '', 'open_id'])],
    ['with a non-string id', b64(['s', 'pending', '', 'open_id', 7])],
  ])('refuse a status cursor %s', (_, c) => {
    expect(decodeStatusCursor(c, 'pending')).toBeNull();
  });

  it('round-trip a sources position, and refuse a source the contract does not allow or a cursor of another list', () => {
    for (const source of ['a', 'approval', 'x.y-z_0', 'a'.repeat(64)]) expect(decodeSourcesCursor(encodeSourcesCursor(source))).toBe(source);
    for (const bad of [b64(['src', 'Bad!']), b64(['src', 'a'.repeat(65)]), b64(['src', 7]), b64(['src']), encodeHistoryCursor({ at: '2026-11-24T08:00:00.123456Z', id: '1' })]) {
      expect(decodeSourcesCursor(bad)).toBeNull();
    }
    expect(decodeHistoryCursor(encodeSourcesCursor('approval'))).toBeNull();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.base64String().map((s) => s.replace(/=+$/, ''))), (s) => {
        expect(() => decodeHistoryCursor(s)).not.toThrow();
        expect(() => decodeStatusCursor(s, 'pending')).not.toThrow();
      }),
    );
  });
});
