import type { SetAppBadgeOptions, SetAppBadgeRequest, SetAppBadgeResult } from './feishu-badge.client';

/** What setAppBadge answers when beforeSend said no. */
export const HELD: Omit<SetAppBadgeResult, 'latencyMs' | 'tokenRefreshed'> = {
  outcome: 'not_sent',
  code: null,
  httpStatus: null,
  msg: 'not sent: held back by the caller before sending',
  logId: null,
  held: true,
};

/**
 * What the reconciler pushes through: Feishu's app_badge/set (FeishuBadgeClient), or, in shadow mode, nothing at
 * all (ShadowBadgeSender). An abstract class so it can be a Nest injection token.
 */
export abstract class BadgeSender {
  /** Never throws for Feishu or network outcomes: every answer is classified. */
  abstract setAppBadge(req: SetAppBadgeRequest, options?: SetAppBadgeOptions): Promise<SetAppBadgeResult>;
}

/**
 * FEISHU_MODE=shadow: every would-be push is answered `shadow` at once, without a request or a token. The
 * reconciler records it as if Feishu had accepted it (so diffs stay what live pushes would send), and the switch
 * to live forgets all of it (the store's mode switch), because Feishu never saw any of it.
 */
export class ShadowBadgeSender extends BadgeSender {
  async setAppBadge(_req: SetAppBadgeRequest, options: SetAppBadgeOptions = {}): Promise<SetAppBadgeResult> {
    // Would-be pushes keep to their slots and the send window as live ones do.
    if (options.beforeSend && !(await options.beforeSend())) return { ...HELD, latencyMs: 0, tokenRefreshed: false };
    return { outcome: 'shadow', code: null, httpStatus: null, msg: 'shadow mode: not sent to Feishu', logId: null, latencyMs: 0, tokenRefreshed: false };
  }
}
