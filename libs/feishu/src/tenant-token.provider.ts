import { FeishuAuthError, type FeishuAuthFailure } from './feishu-auth.error';
import { FEISHU_CODE, HTTP_TOO_MANY_REQUESTS } from './feishu.constants';
import { envelopeCode, envelopeMsg, extractLogId, isRecord, joinUrl } from './feishu-response';
import type { HttpTransport } from './http.transport';
import type { FetchedToken } from './token-cache';

/** Source of tenant_access_tokens. `tenantKey` is '' for a custom app. */
export interface TenantTokenProvider {
  /** Rejects with FeishuAuthError only. */
  getToken(tenantKey: string): Promise<string>;
  /** Drops the cached token for the tenant only if it is still `token`, so a late call cannot drop a fresh one. */
  invalidate(tenantKey: string, token: string): void;
}

export interface AuthCall {
  readonly transport: HttpTransport;
  readonly baseUrl: string;
  readonly path: string;
  readonly body: Record<string, string>;
  readonly timeoutMs: number;
  /** Scrubbed from anything Feishu says before it reaches an error. */
  readonly secrets: readonly string[];
}

export interface AuthAnswer {
  readonly body: Record<string, unknown>;
  readonly logId: string | null;
  readonly httpStatus: number;
}

/** POSTs to an auth endpoint and returns a code-0 answer; anything else becomes a FeishuAuthError. */
export async function postAuth(call: AuthCall): Promise<AuthAnswer> {
  const res = await call.transport.postJson({
    url: joinUrl(call.baseUrl, call.path),
    body: call.body,
    timeoutMs: call.timeoutMs,
  });
  if (res.kind === 'network_error') {
    throw new FeishuAuthError(
      { reason: 'transient', endpoint: call.path, code: null, msg: res.message, logId: null, httpStatus: null },
      call.secrets,
    );
  }
  const { status, json } = res;
  const code = envelopeCode(json);
  const logId = extractLogId(res.headers, json);
  const msg = envelopeMsg(json) ?? `HTTP ${status}`;
  const fail = (reason: FeishuAuthFailure, text = msg) =>
    new FeishuAuthError({ reason, endpoint: call.path, code, msg: text, logId, httpStatus: status }, call.secrets);

  if (status === HTTP_TOO_MANY_REQUESTS || code === FEISHU_CODE.RATE_LIMITED) throw fail('rate_limited');
  if (status >= 500) throw fail('transient');
  if (!isRecord(json) || code === null) throw fail('malformed_response', `${msg}: body is not a Feishu envelope`);
  if (code !== FEISHU_CODE.OK || status < 200 || status >= 300) throw fail('rejected');
  return { body: json, logId, httpStatus: status };
}

/** postAuth, then the token field and `expire` (seconds) of the answer. */
export async function requestToken(
  call: AuthCall,
  tokenField: 'tenant_access_token' | 'app_access_token',
): Promise<FetchedToken> {
  const { body, logId, httpStatus } = await postAuth(call);
  const token = body[tokenField];
  const expire = body['expire'];
  if (typeof token !== 'string' || token === '' || typeof expire !== 'number' || !Number.isFinite(expire) || expire <= 0) {
    const msg = `answer lacks ${tokenField} or a positive expire`;
    throw new FeishuAuthError(
      { reason: 'malformed_response', endpoint: call.path, code: FEISHU_CODE.OK, msg, logId, httpStatus },
      call.secrets,
    );
  }
  return { token, expireSeconds: expire };
}
