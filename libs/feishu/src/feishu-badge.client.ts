import type { UserIdType } from '@badges/contracts';
import { type BadgeClassification, classifyBadgeResponse } from './classify-badge-response';
import { type Clock, systemClock } from './clock';
import { type FeishuAuthFailure, FeishuAuthError, redact } from './feishu-auth.error';
import { DEFAULT_BADGE_TIMEOUT_MS, FEISHU_PATH } from './feishu.constants';
import type { FeishuLogger } from './feishu.logger';
import { joinUrl } from './feishu-response';
import type { HttpPostResult, HttpTransport } from './http.transport';
import type { TenantTokenProvider } from './tenant-token.provider';
import { BadgeSender, HELD } from './badge-sender';

// A thin client over Node's fetch rather than @larksuiteoapi/node-sdk: the SDK fetches tokens without
// single-flight, never evicts a token Feishu calls invalid (99991663), retries nothing, and throws axios errors
// on HTTP 4xx/5xx where the reconciler needs a classified outcome.

/** Feishu's user_id_type, as the event schema names it. */
export type { UserIdType };

export interface ClientBadgeNum {
  readonly web_app: number;
  readonly gadget: number;
}

export interface SetAppBadgeRequest {
  /** '' for a custom app. */
  readonly tenantKey: string;
  readonly userId: string;
  readonly userIdType: UserIdType;
  readonly version: string;
  /** A side left out is not sent. */
  readonly pc?: ClientBadgeNum;
  readonly mobile?: ClientBadgeNum;
}

export interface SetAppBadgeResult extends BadgeClassification {
  /** From the first token request to the last answer, retry included, less the time beforeSend and beforeRetry waited. */
  readonly latencyMs: number;
  /** True when Feishu refused the token, it was invalidated and the call was retried with a fresh one. */
  readonly tokenRefreshed: boolean;
  /**
   * Set when outcome is 'auth' because no token could be obtained; 'provider_error' when the provider threw
   * something other than a FeishuAuthError.
   */
  readonly authFailure?: FeishuAuthFailure | 'provider_error';
  /** True when beforeSend said no: nothing was sent, and the caller knows why. */
  readonly held?: boolean;
}

/** How one call may spend its time and quota. */
export interface SetAppBadgeOptions {
  /**
   * Nothing of the call (token requests, the request, the retry) goes on past this instant (the client's clock):
   * each step gets at most the time left, and a step that would start after it is not started.
   */
  readonly deadlineAt?: number;
  /**
   * Before the retry with a fresh token: resolves true once the retry may be sent (e.g. it has taken its push slot
   * in the rate budget), false to return the refusal instead of retrying.
   */
  readonly beforeRetry?: () => Promise<boolean>;
  /**
   * Before the first attempt leaves, once its token is in hand: resolves true once the request may be sent (its push
   * slot not passed, a place in the send window taken), false to send nothing (the result is `not_sent`, `held`).
   * A token request, which may take a round trip or more, then never makes a push leave later than its slot allows.
   */
  readonly beforeSend?: () => Promise<boolean>;
}

export interface FeishuBadgeClientOptions {
  readonly baseUrl: string;
  /** Per HTTP attempt. Default 5 s. */
  readonly timeoutMs?: number;
}

type Attempt =
  | { readonly kind: 'answered'; readonly token: string; readonly classification: BadgeClassification }
  | {
      readonly kind: 'no_token';
      readonly classification: BadgeClassification;
      readonly authFailure: FeishuAuthFailure | 'provider_error';
    }
  /** beforeSend said no: nothing sent. */
  | { readonly kind: 'held' };

export class FeishuBadgeClient extends BadgeSender {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly transport: HttpTransport,
    private readonly tokens: TenantTokenProvider,
    options: FeishuBadgeClientOptions,
    private readonly clock: Clock = systemClock,
    private readonly logger?: FeishuLogger,
  ) {
    super();
    this.baseUrl = options.baseUrl;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_BADGE_TIMEOUT_MS;
  }

  /** Never throws for Feishu or network outcomes: every answer is classified. */
  async setAppBadge(req: SetAppBadgeRequest, options: SetAppBadgeOptions = {}): Promise<SetAppBadgeResult> {
    const startedAt = this.clock.now();
    // Time spent waiting in beforeSend and beforeRetry (for a slot, a place in the caller's send window) is
    // queueing, not Feishu's latency.
    let waitedMs = 0;
    const waiting = async (hook: () => Promise<boolean>): Promise<boolean> => {
      const from = this.clock.now();
      try {
        return await hook();
      } finally {
        waitedMs += this.clock.now() - from;
      }
    };
    const { beforeSend, beforeRetry } = options;
    const latencyMs = () => Math.max(0, this.clock.now() - startedAt - waitedMs);
    const finish = (attempt: Attempt, tokenRefreshed: boolean): SetAppBadgeResult =>
      attempt.kind === 'held'
        ? { ...HELD, latencyMs: latencyMs(), tokenRefreshed }
        : {
            ...attempt.classification,
            latencyMs: latencyMs(),
            tokenRefreshed,
            ...(attempt.kind === 'no_token' ? { authFailure: attempt.authFailure } : {}),
          };

    const first = await this.attempt(req, options.deadlineAt, beforeSend && (() => waiting(beforeSend)));
    // 'auth' from an answer means an auth code (classifyBadgeResponse); a 5xx carrying one stays transient.
    if (first.kind !== 'answered' || first.classification.outcome !== 'auth') {
      return finish(first, false);
    }
    // Feishu refused the token (99991661/3/4/71, at any HTTP status): drop it and retry exactly once.
    this.tokens.invalidate(req.tenantKey, first.token);
    this.logger?.debug(
      { tenantKey: req.tenantKey, code: first.classification.code, logId: first.classification.logId },
      'Feishu refused the tenant token; retrying once with a fresh one',
    );
    if (beforeRetry) {
      // The fresh token first, so that nothing is awaited between the retry's slot and its send; without one there
      // is no retry (the second attempt would fetch it again, after its slot).
      const fresh = await this.withinDeadline(this.tokens.getToken(req.tenantKey), options.deadlineAt).then(
        () => true,
        () => false,
      );
      if (!fresh || !(await waiting(beforeRetry))) return finish(first, false);
    }
    const second = await this.attempt(req, options.deadlineAt);
    return finish(second, second.kind === 'answered');
  }

  private async attempt(req: SetAppBadgeRequest, deadlineAt: number | undefined, beforeSend?: () => Promise<boolean>): Promise<Attempt> {
    let token: string;
    try {
      token = await this.withinDeadline(this.tokens.getToken(req.tenantKey), deadlineAt);
    } catch (err) {
      if (err instanceof DeadlinePassed) return notSent('');
      return noToken(err);
    }
    if (beforeSend && !(await beforeSend())) return { kind: 'held' };
    const left = deadlineAt === undefined ? this.timeoutMs : Math.min(this.timeoutMs, Math.floor(deadlineAt - this.clock.now()));
    // A request with almost no time left would be cut off on the wire: an ambiguous answer for nothing.
    if (left < MIN_SEND_WINDOW_MS) return notSent(token);
    let answer: HttpPostResult;
    try {
      answer = await this.transport.postJson({
        url: `${joinUrl(this.baseUrl, FEISHU_PATH.APP_BADGE_SET)}?user_id_type=${encodeURIComponent(req.userIdType)}`,
        headers: { authorization: `Bearer ${token}` },
        body: badgeBody(req),
        timeoutMs: left,
      });
    } catch (err) {
      // HttpTransport promises not to throw; one that does is a bug, reported rather than propagated.
      const name = err instanceof Error ? err.name : typeof err;
      return {
        kind: 'answered',
        token,
        classification: { outcome: 'unexpected', code: null, httpStatus: null, msg: `transport threw ${name}`, logId: null },
      };
    }
    const classification = classifyBadgeResponse(answer);
    return { kind: 'answered', token, classification: { ...classification, msg: redact(classification.msg, [token]) } };
  }

  /** The token request, or a refusal once the deadline passes first (the request itself is left to finish). */
  private withinDeadline<T>(p: Promise<T>, deadlineAt: number | undefined): Promise<T> {
    if (deadlineAt === undefined) return p;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlinePassed()), Math.max(0, deadlineAt - this.clock.now()));
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }
}

/** The least time left for which a request is still sent. */
const MIN_SEND_WINDOW_MS = 100;

class DeadlinePassed extends Error {
  override readonly name = 'DeadlinePassed';
}

/** Nothing was sent: the deadline came first, so Feishu's state is as it was and the caller simply retries. */
function notSent(token: string): Attempt {
  return {
    kind: 'answered',
    token,
    classification: { outcome: 'not_sent', code: null, httpStatus: null, msg: 'not sent: its deadline (the lease) would pass first', logId: null },
  };
}

function badgeBody(req: SetAppBadgeRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { user_id: req.userId, version: req.version };
  if (req.pc) body['pc'] = { web_app: req.pc.web_app, gadget: req.pc.gadget };
  if (req.mobile) body['mobile'] = { web_app: req.mobile.web_app, gadget: req.mobile.gadget };
  return body;
}

function noToken(err: unknown): Attempt {
  if (err instanceof FeishuAuthError) {
    return {
      kind: 'no_token',
      authFailure: err.reason,
      classification: { outcome: 'auth', code: err.code, httpStatus: err.httpStatus, msg: err.message, logId: err.logId },
    };
  }
  // A provider outside this library broke its contract; its message is not known to be free of secrets.
  const name = err instanceof Error ? err.name : typeof err;
  return {
    kind: 'no_token',
    authFailure: 'provider_error',
    classification: { outcome: 'auth', code: null, httpStatus: null, msg: `token provider threw ${name}`, logId: null },
  };
}
