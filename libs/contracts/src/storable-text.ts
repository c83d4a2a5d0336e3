/**
 * NUL and lone UTF-16 surrogates, the only string content Postgres `text` cannot hold: NUL is refused (SQLSTATE
 * 22021, 22P05 inside jsonb) and a lone surrogate silently becomes U+FFFD on its way to UTF-8. Matched per code
 * unit (no `u` flag) so a well-formed pair is left alone.
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * Any text made storable (and safe in a Kafka header or a log line): NUL and lone surrogates are written as JSON
 * writes them (`\u0000`, `\ud800`); everything else, backslashes included, is kept as is. For free text (reasons,
 * messages), not for identities: two ids differing only there would become one.
 */
export function storableText(s: string): string;
export function storableText(s: string | null): string | null;
export function storableText(s: string | null): string | null {
  return s === null ? null : s.replace(UNSTORABLE, escape);
}
