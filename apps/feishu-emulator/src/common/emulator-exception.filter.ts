import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CODES, HTTP_REASONS, MESSAGES, PATHS, TROUBLESHOOTER_BASE } from '../emulator.constants';
import type { EmulatorLogger } from './emulator.logger';
import { AdminRequestError, ConnectionAbandoned, FeishuError } from './feishu.error';
import { EMULATOR_LOGGER } from './injection.tokens';

/** Writes every failure: Feishu's error envelope on the open-apis, a plain one on /_emulator. */
@Catch()
export class EmulatorExceptionFilter implements ExceptionFilter {
  constructor(@Inject(EMULATOR_LOGGER) private readonly logger: EmulatorLogger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof ConnectionAbandoned) return;
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request>();
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    if (req.url.startsWith(PATHS.adminPrefix)) return this.writeAdmin(res, exception);

    if (exception instanceof HttpException && exception.getStatus() === 404) {
      // Feishu's gateway answers unknown paths with plain text, not a JSON code.
      res.status(404).type('text/plain').send('404 page not found');
      return;
    }
    const error = this.toFeishuError(exception);
    const logId: string = res.locals.logId;
    res.locals.code = error.code;
    const { headers, fieldViolations } = error.options;
    if (headers !== undefined) res.set(headers);
    res.status(error.status).json({
      code: error.code,
      msg: error.msg,
      error: {
        ...(fieldViolations !== undefined && { field_violations: fieldViolations }),
        log_id: logId,
        troubleshooter: `排查建议查看(Troubleshooting suggestions): ${TROUBLESHOOTER_BASE}&log_id=${logId}&code=${error.code}`,
      },
    });
  }

  private toFeishuError(exception: unknown): FeishuError {
    if (exception instanceof FeishuError) return exception;
    if (exception instanceof HttpException && exception.getStatus() === 400) {
      return new FeishuError(400, CODES.fieldValidation, MESSAGES.fieldValidation, {
        fieldViolations: [{ field: 'body', description: 'request body is not valid JSON' }],
      });
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      const status = exception.getStatus();
      return new FeishuError(status, status, exception.message);
    }
    this.logger.error({ error: describe(exception) }, 'unexpected error');
    return new FeishuError(500, 500, HTTP_REASONS[500]);
  }

  private writeAdmin(res: Response, exception: unknown): void {
    if (exception instanceof AdminRequestError) {
      res.status(exception.status).json({ error: exception.message, issues: exception.issues });
    } else if (exception instanceof HttpException && exception.getStatus() < 500) {
      res.status(exception.getStatus()).json({ error: exception.message });
    } else {
      this.logger.error({ error: describe(exception) }, 'unexpected error');
      res.status(500).json({ error: HTTP_REASONS[500] });
    }
  }
}

function describe(exception: unknown): string {
  return exception instanceof Error ? `${exception.name}: ${exception.message}` : 'non-error thrown';
}
