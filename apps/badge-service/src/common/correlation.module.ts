import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ApiExceptionFilter } from './api-exception.filter';
import { CorrelationMiddleware } from './correlation';

/** A correlation id on every request and response, and the one error shape for every route. */
@Module({ providers: [{ provide: APP_FILTER, useClass: ApiExceptionFilter }] })
export class CorrelationModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationMiddleware).forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }
}
