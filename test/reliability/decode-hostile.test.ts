import { decodeEvent } from '@badges/contracts';
import { HOSTILE_KINDS } from './support/hostile';
import { rng } from './support/traffic';

const CUSTOM = { appType: 'custom' } as const;

/**
 * Regressions found by the hostile-messages scenario: messages that made decodeEvent throw, or that it accepted
 * although Postgres cannot store them, stalled their partition forever (the ingest batch retried without end).
 * Every hostile kind the reliability suite sends must be refused, quietly, by the decoder itself.
 */
describe('decodeEvent against the reliability suite hostile messages', () => {
  const valid = {
    eventId: 'e-1',
    userId: 'ou_1',
    source: 'approval',
    sequence: 1,
    counts: { pc: { web_app: 1, gadget: 0 } },
    occurredAt: '2026-11-24T08:00:00.000Z',
  };
  const decode = (v: string | Buffer) => decodeEvent(Buffer.isBuffer(v) ? v : Buffer.from(v), CUSTOM);

  it.each(Object.keys(HOSTILE_KINDS))('refuses every %s message without throwing', (kind) => {
    const r = rng(20261124);
    for (let i = 0; i < 40; i++) {
      const value = HOSTILE_KINDS[kind](r);
      const res = decodeEvent(value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value), CUSTOM);
      expect(res.ok).toBe(false);
    }
  });

  it('refuses a deeply nested array in a field instead of overflowing the stack while describing it', () => {
    const deep = '['.repeat(30_000) + ']'.repeat(30_000);
    for (const raw of [deep, JSON.stringify({ ...valid, eventId: '__X__' }).replace('"__X__"', deep)]) {
      const r = decode(raw);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.rejection.value).toBe('[object Array]');
    }
  });

  it.each(['0000-01-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '9999-12-31T23:59:59-23:59'])(
    'refuses occurredAt %s, which Postgres cannot store',
    (occurredAt) => {
      const r = decode(JSON.stringify({ ...valid, occurredAt }));
      expect(!r.ok && r.rejection.field).toBe('occurredAt');
    },
  );

  it.each(['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z'])('still accepts occurredAt %s at the edges of the range', (occurredAt) => {
    expect(decode(JSON.stringify({ ...valid, occurredAt })).ok).toBe(true);
  });

  it('refuses ids with lone surrogates, which would reach Postgres as U+FFFD and merge distinct users', () => {
    for (const userId of ['ou_\ud800', 'ou_\udbff', '\udc00x']) {
      const r = decode(JSON.stringify({ ...valid, userId }));
      expect(!r.ok && r.rejection.field).toBe('userId');
    }
    expect(decode(JSON.stringify({ ...valid, userId: 'ou_👍漢' })).ok).toBe(true);
  });
});
