import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { PATHS } from '../emulator.constants';
import { TokenService } from './token.service';

@Controller()
export class AuthController {
  constructor(private readonly tokens: TokenService) {}

  @Post(PATHS.tenantTokenInternal)
  @HttpCode(200)
  tenantAccessTokenInternal(@Body() body: unknown) {
    return this.tokens.issueCustomTenantToken(body);
  }

  @Post(PATHS.appTicketResend)
  @HttpCode(200)
  resendAppTicket(@Body() body: unknown) {
    return this.tokens.resendAppTicket(body);
  }

  @Post(PATHS.appAccessToken)
  @HttpCode(200)
  appAccessToken(@Body() body: unknown) {
    return this.tokens.issueAppAccessToken(body);
  }

  @Post(PATHS.tenantToken)
  @HttpCode(200)
  tenantAccessToken(@Body() body: unknown) {
    return this.tokens.issueStoreTenantToken(body);
  }
}
