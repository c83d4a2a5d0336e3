import { Module } from '@nestjs/common';
import { loadConsoleBundle } from './console-assets';
import { CONSOLE_BUNDLE, ConsoleController } from './console.controller';

/** The operator console at /console (the api role). */
@Module({
  controllers: [ConsoleController],
  providers: [{ provide: CONSOLE_BUNDLE, useFactory: () => loadConsoleBundle() }],
})
export class ConsoleModule {}
