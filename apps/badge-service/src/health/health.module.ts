import { Global, Module, OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DatabaseService } from '@badges/store';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';
import { ReadinessService } from './readiness.service';

// Terminus logs nothing: a probe failing is an answer, not an error to log on every poll (the failing role logs why).
@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  providers: [ReadinessRegistry, ReadinessService],
  controllers: [HealthController],
  exports: [ReadinessRegistry],
})
export class HealthModule implements OnModuleInit {
  constructor(
    private readonly registry: ReadinessRegistry,
    private readonly database: DatabaseService,
  ) {}

  onModuleInit(): void {
    this.registry.register('database', async () => {
      await this.database.ping();
      return { ok: true };
    });
  }
}
