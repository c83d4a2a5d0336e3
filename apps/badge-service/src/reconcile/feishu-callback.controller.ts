import { Body, Controller, ForbiddenException, HttpCode, Inject, Logger, Post } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@badges/config';
import { decodeEventCallback } from '@badges/feishu';
import { AppTicketSync } from './app-ticket.sync';

/** Feishu's event callback for store apps: answers url_verification and takes the hourly app_ticket. */
@Controller('feishu')
export class FeishuCallbackController {
  private readonly log = new Logger(FeishuCallbackController.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tickets: AppTicketSync,
  ) {}

  @Post('events')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  async receive(@Body() body: unknown): Promise<Record<string, string>> {
    const r = decodeEventCallback(body, { verificationToken: this.config.feishu.verificationToken, encryptKey: this.config.feishu.encryptKey });
    switch (r.kind) {
      case 'challenge':
        return { challenge: r.challenge };
      case 'app_ticket':
        if (r.appId !== this.config.feishu.appId) throw new ForbiddenException('app_ticket for another app');
        await this.tickets.received(r.ticket);
        this.log.log('app_ticket received');
        return {};
      case 'ignored':
        return {};
      case 'rejected':
        this.log.warn({ reason: r.reason }, 'event callback rejected');
        throw new ForbiddenException(`event callback rejected: ${r.reason}`);
    }
  }
}
