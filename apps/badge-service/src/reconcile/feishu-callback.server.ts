import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackAnswer, FeishuCallbackService } from './feishu-callback.service';
import { RECONCILE } from './reconcile.constants';

/**
 * FEISHU_CALLBACK_PORT: the event callback on a listener of its own, so the public route Feishu needs can be opened
 * without exposing the audit API, health or metrics. A bare Node server in this Nest app (one process, one DI
 * container, shared with the reconciler) rather than a second Nest app: it has one route and reads the raw body
 * itself, with a size cap and timeouts; the logic is FeishuCallbackService, as on HTTP_PORT.
 */
@Injectable()
export class FeishuCallbackServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger(FeishuCallbackServer.name);
  private readonly server: http.Server;
  private readonly port: number;
  private readonly host: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly callback: FeishuCallbackService,
  ) {
    this.port = config.get('feishu', { infer: true }).callbackPort!;
    this.host = config.get('http', { infer: true }).host;
    this.server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 5_000;
  }

  /** AppTicketSync asks Feishu for a ticket a second after bootstrap: the listener is up by then. */
  async onApplicationBootstrap(): Promise<void> {
    const port = this.port;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.log.log({ port: (this.server.address() as AddressInfo).port }, 'Feishu event callback listening');
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/feishu/events') return send(res, { status: 404, body: { msg: 'not found' } });
    if (req.method !== 'POST') return send(res, { status: 405, body: { msg: 'method not allowed' } }, { allow: 'POST' });
    const body = await readBody(req, RECONCILE.callbackMaxBodyBytes);
    if (body === null) return send(res, this.callback.refuse('too_large_or_aborted'), { connection: 'close' });
    try {
      send(res, await this.callback.handle({ headers: req.headers, rawBody: body }));
    } catch (e) {
      // Not taken (the database failed): a 500 makes Feishu deliver it again.
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'event callback failed');
      send(res, { status: 500, body: { msg: 'internal error' } });
    }
  }
}

function send(res: http.ServerResponse, a: CallbackAnswer, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(a.body));
}

/** The body's bytes, or null when it is over `limit` or the request breaks off. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(null);
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(null));
    req.on('aborted', () => resolve(null));
  });
}
