import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { correlationIdOf } from './correlation';

export interface ApiErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  correlationId: string;
}

/**
 * Every error that reaches an HTTP client: one JSON shape carrying the correlation id (also in x-request-id).
 * 5xx are logged with their cause under that id; the client sees no internals. A 400 lists its reasons.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly log = new Logger('HttpErrors');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<Response>();
    const correlationId = correlationIdOf(req, res);
    const body = toBody(exception, correlationId);
    if (body.statusCode >= 500) {
      this.log.error({ err: exception, correlationId, method: req.method, path: req.path, statusCode: body.statusCode }, 'request failed');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}

function toBody(exception: unknown, correlationId: string): ApiErrorBody {
  if (!(exception instanceof HttpException)) {
    return { statusCode: 500, error: STATUS_CODES[500]!, message: 'internal error', correlationId };
  }
  const statusCode = exception.getStatus();
  const error = STATUS_CODES[statusCode] ?? 'Error';
  if (statusCode >= 500) return { statusCode, error, message: error, correlationId };
  const response = exception.getResponse();
  let message: string | string[] =
    typeof response === 'string'
      ? response
      : (pickMessage((response as { message?: unknown }).message) ?? exception.message);
  if (statusCode === HttpStatus.BAD_REQUEST && !Array.isArray(message)) message = [message];
  return { statusCode, error, message, correlationId };
}

function pickMessage(m: unknown): string | string[] | undefined {
  if (typeof m === 'string') return m;
  if (Array.isArray(m) && m.every((x) => typeof x === 'string')) return m;
  return undefined;
}
