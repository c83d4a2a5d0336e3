import { MAX_MSG_LENGTH } from './feishu.constants';

export type FeishuAuthFailure =
  /** Feishu answered the token request with a non-zero code (wrong secret, app disabled, ...). */
  | 'rejected'
  /** Store app: no app_ticket has been pushed yet; a resend was requested. */
  | 'app_ticket_missing'
  /** Store app: Feishu called the app_ticket invalid (10012); it was dropped and a resend requested. */
  | 'app_ticket_invalid'
  /** Store app: a tenant token was asked for without a tenant key. */
  | 'tenant_key_missing'
  | 'rate_limited'
  /** Network error, timeout or HTTP 5xx. */
  | 'transient'
  /** HTTP success without a usable token, or a body that is not JSON. */
  | 'malformed_response';

export interface FeishuAuthErrorDetails {
  readonly reason: FeishuAuthFailure;
  /** Path of the token endpoint that failed, e.g. /open-apis/auth/v3/app_access_token. */
  readonly endpoint: string;
  readonly code: number | null;
  readonly msg: string;
  readonly logId: string | null;
  readonly httpStatus: number | null;
}

/**
 * A failed token fetch. Built only from Feishu's code/msg/log id and our own words, never from the request, and
 * with every known secret scrubbed from what Feishu said: safe to log and to store.
 */
export class FeishuAuthError extends Error implements FeishuAuthErrorDetails {
  override readonly name = 'FeishuAuthError';
  readonly reason: FeishuAuthFailure;
  readonly endpoint: string;
  readonly code: number | null;
  readonly msg: string;
  readonly logId: string | null;
  readonly httpStatus: number | null;

  constructor(details: FeishuAuthErrorDetails, secrets: readonly string[] = []) {
    const safe = {
      ...details,
      endpoint: redact(details.endpoint, secrets),
      msg: redact(details.msg, secrets),
      logId: details.logId === null ? null : redact(details.logId, secrets),
    };
    super(
      `Feishu token request failed (${safe.reason}) at ${safe.endpoint}: ` +
        `code=${safe.code ?? 'none'} httpStatus=${safe.httpStatus ?? 'none'} logId=${safe.logId ?? 'none'} msg=${safe.msg}`,
    );
    this.reason = safe.reason;
    this.endpoint = safe.endpoint;
    this.code = safe.code;
    this.msg = safe.msg;
    this.logId = safe.logId;
    this.httpStatus = safe.httpStatus;
  }

  toJSON(): FeishuAuthErrorDetails & { name: string; message: string } {
    return {
      name: this.name,
      message: this.message,
      reason: this.reason,
      endpoint: this.endpoint,
      code: this.code,
      msg: this.msg,
      logId: this.logId,
      httpStatus: this.httpStatus,
    };
  }
}

export const REDACTED = '[redacted]';

/** Replaces every occurrence of each non-empty secret, then truncates. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret containing another is removed whole.
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  // Only a pathological secret (one overlapping the placeholder) survives the pass above: then drop the text.
  if (secrets.some((s) => s.length > 0 && out.includes(s))) return REDACTED;
  return out.length > MAX_MSG_LENGTH ? `${out.slice(0, MAX_MSG_LENGTH)}…` : out;
}
