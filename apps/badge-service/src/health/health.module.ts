import { Global, Module, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { HealthController } from './health.controller';
import { ReadinessRegistry } from './readiness.registry';

@Global()
@Module({ providers: [ReadinessRegistry], controllers: [HealthController], exports: [ReadinessRegistry] })
export class HealthModule implements OnModuleInit {
  constructor(
    private readonly registry: ReadinessRegistry,
    private readonly ds: DataSource,
  ) {}

  onModuleInit(): void {
    this.registry.register('database', async () => {
      await this.ds.query('SELECT 1');
      return { ok: true };
    });
  }
}
