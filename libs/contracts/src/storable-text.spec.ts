import fc from 'fast-check';
import { storableText } from './storable-text';

/** What Postgres text refuses or mangles: NUL, and a surrogate without its partner. */
const unstorable = (s: string) => /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('storableText', () => {
  it.each([
    ['NUL', 'a\u0000b', 'a\\u0000b'],
    ['a lone high surrogate', 'x\ud800', 'x\\ud800'],
    ['a lone low surrogate', '\udfffy', '\\udfffy'],
    ['a reversed pair', '\udc00\ud800', '\\udc00\\ud800'],
    ['a high surrogate before a NUL', '\ud83d\u0000', '\\ud83d\\u0000'],
  ])('escapes %s the way JSON does', (_, input, expected) => {
    expect(storableText(input)).toBe(expected);
  });

  it('keeps well-formed text, other control characters and backslashes as they are', () => {
    for (const s of ['', 'plain', 'emoji 😀 pair', 'tab\tnewline\n\u0001', 'back\\slash \\u0000 already escaped', '中文']) {
      expect(storableText(s)).toBe(s);
    }
  });

  it('passes null through', () => {
    expect(storableText(null)).toBeNull();
  });

  it('leaves nothing Postgres cannot store, and changes only what it must', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = storableText(s);
        expect(unstorable(out)).toBe(false);
        expect(out === s).toBe(!unstorable(s));
        // UTF-8 round trip is lossless: what is stored is what was meant.
        expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
      }),
      { numRuns: 2000 },
    );
  });
});
