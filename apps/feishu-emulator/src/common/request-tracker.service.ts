import { Inject, Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { EmulatorConfig } from '../config/emulator.config';
import { ENDPOINT_BY_PATH, HEADERS, NO_ANSWER } from '../emulator.constants';
import { StatsService } from '../stats/stats.service';
import { Clock } from './clock.service';
import type { EmulatorLogger } from './emulator.logger';
import { EMULATOR_CONFIG, EMULATOR_LOGGER } from './injection.tokens';
import { LogIdGenerator } from './log-id.generator';

/**
 * First Express middleware: gives every answer its `x-tt-logid` and counts it once the
 * connection is done with it. Whoever answers with a non-zero Feishu code puts it in
 * `res.locals.code`; a 2xx answer without one counts as code 0.
 */
@Injectable()
export class RequestTracker {
  constructor(
    @Inject(EMULATOR_CONFIG) private readonly config: EmulatorConfig,
    @Inject(EMULATOR_LOGGER) private readonly logger: EmulatorLogger,
    private readonly logIds: LogIdGenerator,
    private readonly stats: StatsService,
    private readonly clock: Clock,
  ) {}

  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const logId = this.logIds.next();
    res.setHeader(HEADERS.logId, logId);
    res.locals.logId = logId;
    const path = pathOf(req.url);
    const endpoint = ENDPOINT_BY_PATH.get(path);
    const startedAt = this.config.logRequests ? this.clock.now() : 0;
    this.stats.started();
    res.once('close', () => {
      const answered = res.writableFinished;
      const code = String(res.locals.code ?? (answered ? (res.statusCode < 300 ? 0 : res.statusCode) : NO_ANSWER.aborted));
      const status = answered ? String(res.statusCode) : 'none';
      this.stats.ended(endpoint, code, status);
      if (this.config.logRequests) {
        this.logger.info(
          { method: req.method, path, status, code, ms: this.clock.now() - startedAt, logId },
          'request',
        );
      }
    });
    next();
  };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}
