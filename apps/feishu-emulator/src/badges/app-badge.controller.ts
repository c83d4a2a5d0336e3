import { Body, Controller, Headers, HttpCode, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { PATHS } from '../emulator.constants';
import { SetAppBadgeUseCase } from './set-app-badge.use-case';

@Controller()
export class AppBadgeController {
  constructor(private readonly setAppBadge: SetAppBadgeUseCase) {}

  @Post(PATHS.appBadgeSet)
  @HttpCode(200)
  set(
    @Headers('authorization') authorization: string | undefined,
    @Query('user_id_type') userIdType: unknown,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.setAppBadge.execute({ authorization, userIdType, body, res });
  }
}
