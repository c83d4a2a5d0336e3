import { createHash } from 'node:crypto';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

export const AUDIT_SCOPES = ['read', 'resync'] as const;
export type AuditScope = (typeof AUDIT_SCOPES)[number];

/** A bearer token of the audit API as the service keeps it: never the token itself, only its sha256. */
export interface ScopedAuditToken {
  /** Recorded as the actor of resyncs; the throttling key. */
  readonly name: string;
  /** Hex sha256 of the token. */
  readonly sha256: string;
  readonly scopes: readonly AuditScope[];
  /** '*' for every tenant, or the tenant keys the token may see. */
  readonly tenants: '*' | readonly string[];
}

const MIN_TOKEN_LENGTH = 16;
const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

const ENTRY = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'must be 1-64 letters, digits, . _ @ - (it is written to history and logs)'),
    token: z.string().min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`).regex(/^\S+$/, 'must not contain whitespace').optional(),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (the sha256 of the token)').optional(),
    scopes: z.array(z.enum(AUDIT_SCOPES)).min(1, 'must name read and/or resync'),
    tenants: z
      .array(z.string().max(128))
      .min(1, 'must be ["*"] or a list of tenant keys')
      .refine((t) => !t.includes('*') || t.length === 1, '"*" stands alone'),
  })
  .strict()
  .refine((e) => (e.token === undefined) !== (e.sha256 === undefined), { message: 'exactly one of token or sha256', path: ['token'] });

const FULL_ACCESS = { scopes: AUDIT_SCOPES, tenants: '*' } as const;

/** AUDIT_API_TOKENS (and a file of that plain form): every token has both scopes and sees every tenant. */
export function plainAuditTokens(text: string, variable = 'AUDIT_API_TOKENS'): { tokens: ScopedAuditToken[]; problems: string[] } {
  const list = text
    .split(/[,\n\r]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  const problems = list.some((t) => t.length < MIN_TOKEN_LENGTH) ? [`${variable}: each token must be at least ${MIN_TOKEN_LENGTH} characters`] : [];
  return { tokens: list.map((t, i) => ({ name: `${variable}#${i + 1}`, sha256: sha256Hex(t), ...FULL_ACCESS })), problems };
}

/** A scoped list starts, after blank and comment lines, with `[` (JSON) or `- ` (a YAML sequence). */
function isStructured(text: string): boolean {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  return first !== undefined && /^\s*(\[|-(\s|$))/.test(first);
}

/**
 * The text of AUDIT_API_TOKENS_FILE: a JSON or YAML list of `{name, token | sha256, scopes, tenants}`, or a plain
 * comma (or newline) separated list meaning what AUDIT_API_TOKENS means. Problems name the entry by index and name,
 * never a token, and never quote the file (a YAML error's excerpt would).
 */
export function parseAuditTokensFile(text: string): { tokens: ScopedAuditToken[]; problems: string[] } {
  const V = 'AUDIT_API_TOKENS_FILE';
  if (!isStructured(text)) return plainAuditTokens(text, V);
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    const at = e instanceof YAMLParseError && e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
    return { tokens: [], problems: [`${V}: not a valid JSON or YAML list${at}`] };
  }
  if (!Array.isArray(doc)) return { tokens: [], problems: [`${V}: must be a list of {name, token | sha256, scopes, tenants}`] };
  if (doc.length === 0) return { tokens: [], problems: [`${V}: the list is empty`] };
  const problems: string[] = [];
  const tokens: ScopedAuditToken[] = [];
  doc.forEach((raw, i) => {
    const name = raw !== null && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : undefined;
    const label = `${V}: entry ${i + 1}${name !== undefined && /^[\w.@-]{1,64}$/.test(name) ? ` ("${name}")` : ''}`;
    const parsed = ENTRY.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${label}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      return;
    }
    const e = parsed.data;
    tokens.push({
      name: e.name,
      sha256: e.sha256 !== undefined ? e.sha256.toLowerCase() : sha256Hex(e.token!),
      scopes: AUDIT_SCOPES.filter((s) => e.scopes.includes(s)),
      tenants: e.tenants[0] === '*' ? '*' : [...new Set(e.tenants)],
    });
  });
  const names = new Set<string>();
  const digests = new Map<string, string>();
  for (const t of tokens) {
    if (names.has(t.name)) problems.push(`${V}: the name "${t.name}" is used twice`);
    names.add(t.name);
    const other = digests.get(t.sha256);
    if (other !== undefined) problems.push(`${V}: "${t.name}" and "${other}" have the same token`);
    digests.set(t.sha256, t.name);
  }
  return { tokens, problems };
}
