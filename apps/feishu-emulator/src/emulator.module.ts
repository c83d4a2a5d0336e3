import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminController } from './admin/admin.controller';
import { AdminService } from './admin/admin.service';
import { AppBadgeController } from './badges/app-badge.controller';
import { BadgeService } from './badges/badge.service';
import { SetAppBadgeUseCase } from './badges/set-app-badge.use-case';
import { UserStatusService } from './badges/user-status.service';
import { Clock, SystemClock } from './common/clock.service';
import { EmulatorExceptionFilter } from './common/emulator-exception.filter';
import { type EmulatorLogger, SILENT_LOGGER } from './common/emulator.logger';
import { EMULATOR_CONFIG, EMULATOR_LOGGER } from './common/injection.tokens';
import { LogIdGenerator } from './common/log-id.generator';
import { Random, SystemRandom } from './common/random.service';
import { RequestTracker } from './common/request-tracker.service';
import type { EmulatorConfig } from './config/emulator.config';
import { FaultInjector } from './faults/fault-injector.service';
import { GatewayService } from './gateway/gateway.service';
import { RateLimiter } from './gateway/rate-limiter.service';
import { StatsService } from './stats/stats.service';
import { AppTicketPusher } from './tokens/app-ticket.pusher';
import { AuthController } from './tokens/auth.controller';
import { TokenService } from './tokens/token.service';

export interface EmulatorOverrides {
  clock?: Clock;
  random?: Random;
  logger?: EmulatorLogger;
}

@Module({})
export class EmulatorModule {
  static forRoot(config: EmulatorConfig, overrides: EmulatorOverrides = {}): DynamicModule {
    return {
      module: EmulatorModule,
      controllers: [AuthController, AppBadgeController, AdminController],
      providers: [
        { provide: EMULATOR_CONFIG, useValue: config },
        { provide: EMULATOR_LOGGER, useValue: overrides.logger ?? SILENT_LOGGER },
        overrides.clock ? { provide: Clock, useValue: overrides.clock } : { provide: Clock, useClass: SystemClock },
        overrides.random ? { provide: Random, useValue: overrides.random } : { provide: Random, useClass: SystemRandom },
        { provide: APP_FILTER, useClass: EmulatorExceptionFilter },
        LogIdGenerator,
        RequestTracker,
        StatsService,
        RateLimiter,
        FaultInjector,
        GatewayService,
        AppTicketPusher,
        TokenService,
        UserStatusService,
        BadgeService,
        SetAppBadgeUseCase,
        AdminService,
      ],
    };
  }
}
