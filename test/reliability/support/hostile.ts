import type { OutMessage } from '../../support/kafka';
import type { Rng } from './traffic';

/** The header that identifies a hostile message, so the DLQ can be matched against what was sent. */
export const HOSTILE_ID_HEADER = 'x-hostile-id';

const valid = (r: Rng) => ({
  eventId: `evil-${r.int(0, 1e9)}`,
  userId: `ou_hostile_${r.int(0, 1e6)}`,
  userIdType: 'open_id',
  source: 'approval',
  sequence: r.int(0, 1e6),
  counts: { pc: { web_app: r.int(0, 9), gadget: 0 }, mobile: { web_app: 1, gadget: 0 } },
  occurredAt: '2026-11-24T08:00:00.000Z',
});

const json = (o: unknown) => JSON.stringify(o);
const nest = (depth: number, open: string, close: string, core = '1') => open.repeat(depth) + core + close.repeat(depth);

/** A valid event with one field replaced by `raw` (JSON text, spliced in as is). */
function withRaw(r: Rng, path: string, raw: string): string {
  const marker = `"__RAW_${r.int(0, 1e9)}__"`;
  const o: Record<string, unknown> = valid(r);
  const keys = path.split('.');
  let at: Record<string, unknown> = o;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys[keys.length - 1]] = JSON.parse(marker);
  return json(o).replace(marker, raw);
}

const without = (r: Rng, field: string) => {
  const o: Record<string, unknown> = valid(r);
  delete o[field];
  return json(o);
};

type Maker = (r: Rng) => string | Buffer | null;

/**
 * Every kind of message the contract refuses: random bytes, deep JSON, huge numbers, wrong types, unicode edge
 * cases, dates Postgres cannot store, more than 64 KiB. Each must end in the DLQ and nowhere else.
 */
export const HOSTILE_KINDS: Record<string, Maker> = {
  randomBytes: (r) => Buffer.from(Array.from({ length: r.int(1, 300) }, () => r.int(0, 255))),
  invalidUtf8: (r) => Buffer.concat([Buffer.from(json(valid(r)).slice(0, 20)), Buffer.from([0xc0, 0xaf, 0xff, 0xfe]), Buffer.from('"}')]),
  utf16: (r) => Buffer.from(json(valid(r)), 'utf16le'),
  empty: () => Buffer.alloc(0),
  tombstone: () => null,
  truncated: (r) => json(valid(r)).slice(0, r.int(1, 60)),
  notAnObject: (r) => r.pick(['null', 'true', '42', '"event"', '[]', json([valid(r)]), '1e999']),
  deepArray: (r) => nest(r.int(1000, 30000), '[', ']'),
  deepObject: (r) => nest(r.int(1000, 10000), '{"a":', '}'),
  deepInField: (r) => withRaw(r, r.pick(['eventId', 'userId', 'source', 'sequence', 'occurredAt', 'counts']), nest(r.int(2000, 20000), '[', ']')),
  deepInCounts: (r) => withRaw(r, 'counts.pc.web_app', nest(r.int(2000, 20000), '[', ']')),
  deepObjectInCounts: (r) => withRaw(r, 'counts.mobile', nest(r.int(500, 5000), '{"web_app":', '}')),
  hugeSequence: (r) => withRaw(r, 'sequence', r.pick(['9007199254740992', '1e308', '1e400', '-1', '1.5', '18446744073709551616', '-0.0001'])),
  hugeCount: (r) =>
    withRaw(r, r.pick(['counts.pc.web_app', 'counts.pc.gadget', 'counts.mobile.web_app', 'counts.mobile.gadget']), r.pick(['2147483648', '1e20', '-1', '0.5', '1e400', '99999999999999999999999'])),
  wrongTypes: (r) =>
    r.pick([
      () => withRaw(r, 'userId', '12345'),
      () => withRaw(r, 'eventId', '{"id":1}'),
      () => withRaw(r, 'sequence', '"17"'),
      () => withRaw(r, 'counts', '[1,2,3]'),
      () => withRaw(r, 'counts.pc', '"3"'),
      () => withRaw(r, 'counts.pc.web_app', 'true'),
      () => withRaw(r, 'occurredAt', '1764000000000'),
      () => withRaw(r, 'userIdType', '"email"'),
      () => withRaw(r, 'tenantKey', '42'),
      () => withRaw(r, 'source', '"Approval"'),
      () => withRaw(r, 'source', '"-leading-dash"'),
      () => withRaw(r, 'counts.desktop', '{"web_app":1}'),
      () => withRaw(r, 'counts.pc.badge', '1'),
    ])(),
  missingField: (r) => without(r, r.pick(['eventId', 'userId', 'source', 'sequence', 'counts', 'occurredAt'])),
  emptyStrings: (r) => withRaw(r, r.pick(['eventId', 'userId']), '""'),
  unicode: (r) =>
    r.pick([
      // ids that are not well-formed Unicode: a lone surrogate would be mangled on the way to Postgres
      () => withRaw(r, 'userId', '"ou_\\ud800"'),
      () => withRaw(r, 'userId', '"ou_\\udfff_x"'),
      () => withRaw(r, 'eventId', '"\\ud83d"'),
      () => withRaw(r, 'userId', '"ou_\\u0000nul"'),
      () => withRaw(r, 'userId', '"ou_\\u001b[31m"'),
      () => withRaw(r, 'userId', json('漢'.repeat(129))),
      () => withRaw(r, 'userId', json('👍'.repeat(65))),
      () => withRaw(r, 'source', json('appröval')),
      () => withRaw(r, 'source', json('approval\u202e')),
      () => withRaw(r, 'source', json('ａｐｐｒｏｖａｌ')),
      () => withRaw(r, 'occurredAt', json('２０２６-11-24T08:00:00Z')),
    ])(),
  badDates: (r) =>
    withRaw(
      r,
      'occurredAt',
      json(
        r.pick([
          '0000-01-01T00:00:00Z',
          '0000-12-31T23:59:59.999+01:00',
          '9999-12-31T23:59:59-23:59',
          '2026-13-01T00:00:00Z',
          '2026-11-24',
          '2026-11-24T08:00:00',
          'yesterday',
          '2026-11-24T08:00:00+99:99',
        ]),
      ),
    ),
  prototypePollution: (r) => withRaw(r, r.pick(['counts', 'counts.pc']), '{"__proto__":{"web_app":1}}'),
  oversized: (r) => {
    const o: Record<string, unknown> = valid(r);
    o.padding = 'x'.repeat(64 * 1024 + r.int(1, 40 * 1024));
    return json(o);
  },
  oversizedWhitespace: (r) => json(valid(r)) + ' '.repeat(64 * 1024 - 10 + r.int(100, 5000)),
};

/** `n` hostile messages, kinds in turn, each tagged with its id header and keyed like a producer would (or not). */
export function hostileMessages(n: number, r: Rng, prefix: string): OutMessage[] {
  const kinds = Object.entries(HOSTILE_KINDS);
  return Array.from({ length: n }, (_, i) => {
    const [kind, make] = kinds[i % kinds.length];
    const value = make(r);
    return {
      key: r.chance(0.2) ? null : `ou_hostile_${r.int(0, 1e6)}`,
      value,
      headers: { [HOSTILE_ID_HEADER]: `${prefix}-${i}`, 'x-hostile-kind': kind },
    };
  });
}
