import { AppConfig } from '@badges/config';
import { hostname } from 'node:os';
import type { Params } from 'nestjs-pino';
import { correlationIdOf } from './common/correlation';
import { errorSerializer } from './common/error-serializer';

/** Paths pino blanks in every log line: credentials must never reach a log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.authorization',
  '*.appSecret',
  '*.app_secret',
  '*.tenant_access_token',
  '*.app_access_token',
  '*.app_ticket',
  '*.token',
  '*.apiTokens',
  '*.sha256',
  'config',
];

export function loggerParams(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.log.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      autoLogging: { ignore: (req) => req.url === '/metrics' || (req.url ?? '').startsWith('/health') },
      genReqId: (req, res) => correlationIdOf(req, res),
      // On every line through the root logger's bindings: a per-request `customProps` made two child loggers per
      // request (one when it came in, one when it ended), whether or not anything was logged.
      base: { pid: process.pid, hostname: hostname(), service: 'badge-reconciler' },
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: errorSerializer,
      },
    },
  };
}
