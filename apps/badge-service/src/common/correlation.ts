import { Injectable, NestMiddleware } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CORRELATION_HEADER = 'x-request-id';

/** An incoming id is kept only if it is short and plain enough to log and echo safely. */
const SANE_ID = /^[A-Za-z0-9._:@+=\/-]{1,64}$/;

const ids = new WeakMap<IncomingMessage, string>();

/**
 * The request's correlation id: the caller's x-request-id when sane, a fresh UUID otherwise; fixed on first use
 * and echoed in the x-request-id response header. Usable as pino-http's genReqId, so log lines carry it too.
 */
export function correlationIdOf(req: IncomingMessage, res?: ServerResponse): string {
  let id = ids.get(req);
  if (id === undefined) {
    const incoming = req.headers[CORRELATION_HEADER];
    id = typeof incoming === 'string' && SANE_ID.test(incoming) ? incoming : randomUUID();
    ids.set(req, id);
  }
  if (res && !res.headersSent && res.getHeader(CORRELATION_HEADER) === undefined) res.setHeader(CORRELATION_HEADER, id);
  return id;
}

@Injectable()
export class CorrelationMiddleware implements NestMiddleware {
  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    correlationIdOf(req, res);
    next();
  }
}
