import { Inject, Injectable } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import { Clock } from '../common/clock.service';
import type { EmulatorLogger } from '../common/emulator.logger';
import { EMULATOR_CONFIG, EMULATOR_LOGGER } from '../common/injection.tokens';
import { Random } from '../common/random.service';
import type { EmulatorConfig } from '../config/emulator.config';
import { HEADERS, LIMITS } from '../emulator.constants';
import { encryptEvent, signEvent } from './event-crypto.util';

export interface PushCounters {
  delivered: number;
  failed: number;
  skippedNoCallbackUrl: number;
}

/** POSTs `app_ticket` events (Feishu's v1 event format) to the configured callback URL. */
@Injectable()
export class AppTicketPusher {
  private counters: PushCounters = { delivered: 0, failed: 0, skippedNoCallbackUrl: 0 };
  private readonly pending = new Set<http.ClientRequest>();

  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    @Inject(EMULATOR_LOGGER) private readonly logger: EmulatorLogger,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /** Settles once the callback answered or failed; never rejects. */
  push(appId: string, appTicket: string): Promise<void> {
    const { url, verificationToken, encryptKey } = this.config.eventCallback;
    if (url === null) {
      this.counters.skippedNoCallbackUrl += 1;
      return Promise.resolve();
    }
    const event = {
      uuid: this.random.hex(16),
      token: verificationToken,
      ts: (this.clock.now() / 1000).toFixed(7),
      type: 'event_callback',
      event: { app_id: appId, app_ticket: appTicket, type: 'app_ticket' },
    };
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', connection: 'close' };
    let body = JSON.stringify(event);
    if (encryptKey !== null) {
      body = JSON.stringify({ encrypt: encryptEvent(body, encryptKey, Buffer.from(this.random.hex(16), 'hex')) });
      const timestamp = String(Math.floor(this.clock.now() / 1000));
      const nonce = this.random.hex(8);
      headers[HEADERS.larkTimestamp] = timestamp;
      headers[HEADERS.larkNonce] = nonce;
      headers[HEADERS.larkSignature] = signEvent(timestamp, nonce, encryptKey, body);
    }
    return this.post(url, headers, body);
  }

  countersSnapshot(): PushCounters {
    return { ...this.counters };
  }

  resetCounters(): void {
    this.counters = { delivered: 0, failed: 0, skippedNoCallbackUrl: 0 };
  }

  abortAll(): void {
    for (const request of this.pending) request.destroy();
  }

  private post(url: string, headers: Record<string, string>, body: string): Promise<void> {
    return new Promise((resolve) => {
      const target = new URL(url);
      const transport = target.protocol === 'https:' ? https : http;
      headers['content-length'] = String(Buffer.byteLength(body));
      const request = transport.request(target, { method: 'POST', headers, timeout: LIMITS.callbackTimeoutMs });
      this.pending.add(request);
      const done = (ok: boolean, detail: object) => {
        if (!this.pending.delete(request)) return;
        if (ok) this.counters.delivered += 1;
        else {
          this.counters.failed += 1;
          this.logger.error({ ...detail, callback: `${target.origin}${target.pathname}` }, 'app_ticket callback failed');
        }
        resolve();
      };
      let status: number | undefined;
      request.on('response', (response) => {
        status = response.statusCode;
        response.resume();
      });
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', (error) => done(false, { error: error.message }));
      request.on('close', () => done(status !== undefined && status < 300, { status: status ?? null }));
      request.end(body);
    });
  }
}
