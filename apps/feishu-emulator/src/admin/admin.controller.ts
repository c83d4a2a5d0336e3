import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { PATHS } from '../emulator.constants';
import { AdminService } from './admin.service';

@Controller(PATHS.adminPrefix)
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @Get('badges')
  badges(@Query() query: unknown) {
    return this.admin.badgeList(query);
  }

  @Get('badges/:userId')
  badge(@Param('userId') userId: string, @Query() query: unknown) {
    return this.admin.badge(userId, query);
  }

  @Get('badges/:userId/history')
  badgeHistory(@Param('userId') userId: string, @Query() query: unknown) {
    return this.admin.badgeHistory(userId, query);
  }

  @Get('stats')
  stats() {
    return this.admin.statsSnapshot();
  }

  @Post('reset')
  @HttpCode(200)
  reset() {
    return this.admin.reset();
  }

  @Get('faults')
  faults() {
    return this.admin.faultState();
  }

  @Post('faults')
  @HttpCode(200)
  updateFaults(@Body() body: unknown) {
    return this.admin.updateFaults(body);
  }

  @Get('users')
  users() {
    return this.admin.userStatuses();
  }

  @Post('users')
  @HttpCode(200)
  updateUsers(@Body() body: unknown) {
    return this.admin.updateUserStatuses(body);
  }

  @Get('rate-limits')
  rateLimits() {
    return this.admin.rateLimits();
  }

  @Post('rate-limits')
  @HttpCode(200)
  updateRateLimits(@Body() body: unknown) {
    return this.admin.updateRateLimits(body);
  }

  @Get('tokens')
  tokens() {
    return this.admin.tokenSettings();
  }

  @Post('tokens')
  @HttpCode(200)
  updateTokens(@Body() body: unknown) {
    return this.admin.updateTokenSettings(body);
  }

  @Post('tokens/expire')
  @HttpCode(200)
  expireTokens() {
    return this.admin.expireTokens();
  }

  @Get('app-ticket')
  appTicket() {
    return this.admin.appTicket();
  }
}
