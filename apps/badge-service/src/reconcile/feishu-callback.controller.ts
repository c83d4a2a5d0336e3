import { Controller, Post, Req, Res } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { FeishuCallbackService } from './feishu-callback.service';

/**
 * The event callback on HTTP_PORT (store apps without FEISHU_CALLBACK_PORT). The signature is over the raw body,
 * so the app must be created with `rawBody: true` (main.ts does); without it every event is refused.
 */
@Controller('feishu')
export class FeishuCallbackController {
  constructor(private readonly callback: FeishuCallbackService) {}

  @Post('events')
  @ApiExcludeEndpoint()
  async receive(@Req() req: RawBodyRequest<Request>, @Res() res: Response): Promise<void> {
    const answer = await this.callback.handle({ headers: req.headers, rawBody: req.rawBody ?? null });
    res.status(answer.status).json(answer.body);
  }
}
