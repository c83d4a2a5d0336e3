import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { RequestTracker } from './common/request-tracker.service';
import type { EmulatorConfig } from './config/emulator.config';
import { LIMITS } from './emulator.constants';
import { EmulatorModule, type EmulatorOverrides } from './emulator.module';
import { FaultInjector } from './faults/fault-injector.service';
import { StatsService } from './stats/stats.service';
import { AppTicketPusher } from './tokens/app-ticket.pusher';

export interface EmulatorHandle {
  app: INestApplication;
  /** Base URL, e.g. `http://127.0.0.1:18080`; give it to the Feishu SDK as `domain`. */
  url: string;
  port: number;
  /** Releases hung requests, lets in-flight ones finish (briefly), then closes every connection. */
  close(): Promise<void>;
}

/** Starts an emulator listening on `config.port` (0 picks a free port). */
export async function createEmulatorApp(config: EmulatorConfig, overrides: EmulatorOverrides = {}): Promise<EmulatorHandle> {
  const app = await NestFactory.create<NestExpressApplication>(EmulatorModule.forRoot(config, overrides), new ExpressAdapter(), {
    logger: false,
    bodyParser: false,
    forceCloseConnections: true,
  });
  const express = app.getHttpAdapter().getInstance();
  express.disable('x-powered-by');
  express.set('etag', false);
  app.use(app.get(RequestTracker).middleware);
  app.useBodyParser('json', { limit: LIMITS.jsonBodyBytes });

  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close();
    throw error;
  }
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      app.get(FaultInjector).releaseHung();
      app.get(AppTicketPusher).abortAll();
      const stats = app.get(StatsService);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stats.drained(), new Promise((resolve) => (timer = setTimeout(resolve, LIMITS.shutdownGraceMs)))]);
      clearTimeout(timer);
      await app.close();
    })());

  return { app, url, port, close };
}
