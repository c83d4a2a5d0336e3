import { Global, Module, OnModuleInit } from '@nestjs/common';
import { DatabaseService } from '@badges/store';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';

@Global()
@Module({ providers: [ReadinessRegistry], controllers: [HealthController], exports: [ReadinessRegistry] })
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
