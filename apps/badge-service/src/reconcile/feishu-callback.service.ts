import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { decodeEventCallback, verifyEventSignature } from '@badges/feishu';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { AppTicketSync } from './app-ticket.sync';
import { RECONCILE } from './reconcile.constants';

export interface CallbackRequest {
  /** Header names in lower case, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body exactly as received; null when the transport could not keep it. */
  readonly rawBody: Buffer | null;
}

export interface CallbackAnswer {
  readonly status: number;
  readonly body: Record<string, string>;
}

/** Every refusal looks the same to the caller; the reason is logged (rate-limited) and counted. */
export const REFUSED: CallbackAnswer = { status: 403, body: { msg: 'refused' } };
const OK: CallbackAnswer = { status: 200, body: {} };

const header = (h: CallbackRequest['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Feishu's event callback for store apps: answers url_verification and takes the app_ticket. With an encrypt key,
 * every event must carry a valid X-Lark-Signature over the raw body with a timestamp within 5 minutes; a challenge
 * without signature headers is still answered (it changes nothing, and answering needs the key). An event id seen
 * before (by any replica) changes nothing and is answered 200, so Feishu stops resending it.
 */
@Injectable()
export class FeishuCallbackService {
  private readonly log = new Logger('FeishuCallback');
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  private readonly feishu: AppConfig['feishu'];

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly tickets: AppTicketSync,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.feishu = config.get('feishu', { infer: true });
  }

  async handle(req: CallbackRequest): Promise<CallbackAnswer> {
    if (req.rawBody === null) return this.refuse('no_raw_body');
    const { encryptKey, verificationToken, appId } = this.feishu;
    let signed = false;
    if (encryptKey) {
      const verdict = verifyEventSignature(
        {
          timestamp: header(req.headers, 'x-lark-request-timestamp'),
          nonce: header(req.headers, 'x-lark-request-nonce'),
          signature: header(req.headers, 'x-lark-signature'),
          rawBody: req.rawBody,
        },
        encryptKey,
        this.clock.now(),
      );
      if (verdict !== 'ok' && verdict !== 'unsigned') return this.refuse(verdict);
      signed = verdict === 'ok';
    }
    const r = decodeEventCallback(req.rawBody, { verificationToken, encryptKey });
    if (r.kind === 'rejected') return this.refuse(r.reason);
    if (r.kind === 'challenge') return this.answer({ status: 200, body: { challenge: r.challenge } }, 'challenge');
    if (encryptKey && !signed) return this.refuse('unsigned');
    if (r.kind === 'ignored') return this.answer(OK, 'ignored');
    if (r.appId !== appId) return this.refuse('other_app');
    // The event's own creation time orders tickets; the signed request time stands in when it has none.
    const stamp = Number(header(req.headers, 'x-lark-request-timestamp'));
    const issuedAtMs = r.createdAtMs ?? (signed && Number.isFinite(stamp) ? stamp * 1000 : this.clock.now());
    const outcome = await this.tickets.received(r.ticket, new Date(issuedAtMs), r.eventId);
    if (outcome === 'stored') this.log.log('app_ticket received');
    else this.note(outcome, `app_ticket not taken: ${outcome === 'duplicate' ? 'event id already seen' : 'older than the stored one'}`);
    return this.answer(OK, outcome === 'stored' ? 'ticket_stored' : outcome === 'duplicate' ? 'duplicate' : 'ticket_older');
  }

  private answer(a: CallbackAnswer, outcome: string): CallbackAnswer {
    this.metrics.callbacks.inc({ outcome, reason: '' });
    return a;
  }

  /** Also for the transport: a body over the size limit. */
  refuse(reason: string): CallbackAnswer {
    this.metrics.callbacks.inc({ outcome: 'refused', reason });
    this.note(reason, 'event callback refused', true);
    return REFUSED;
  }

  /** One line per reason per interval, with how many were not logged since: a flood of forgeries cannot flood the log. */
  private note(reason: string, message: string, warn = false): void {
    const now = this.clock.now();
    const last = this.lastLogged.get(reason);
    if (last && now - last.at < RECONCILE.callbackLogIntervalMs) {
      last.suppressed += 1;
      return;
    }
    this.lastLogged.set(reason, { at: now, suppressed: 0 });
    const fields = { reason, suppressedSinceLast: last?.suppressed ?? 0 };
    if (warn) this.log.warn(fields, message);
    else this.log.log(fields, message);
  }
}
