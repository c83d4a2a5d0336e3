import { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { AddressInfo } from 'node:net';
import { loadConfig } from '@badges/config';
import { AppModule } from '../../apps/badge-service/src/app.module';
import { configureHttp } from '../../apps/badge-service/src/http-hardening';
import { TestDatabase } from '../support/database';

export const TOKEN = 'audit-test-token-0123456789abcdef';

export interface AuditApp {
  app: INestApplication;
  base: string;
  /** fetch with the bearer token unless `headers` says otherwise. */
  call(path: string, init?: RequestInit & { auth?: string | null }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * The badge service with the api role only, in-process, on an ephemeral port, against the test database. `http`
 * configures the HTTP layer as main.ts does (helmet, /docs and /docs-json unless AUDIT_API_DOCS=false).
 */
export async function startAuditApp(db: TestDatabase, env: Record<string, string> = {}, options: { http?: boolean } = {}): Promise<AuditApp> {
  const config = loadConfig({
    BADGE_ROLES: 'api',
    DATABASE_URL: db.url,
    DATABASE_POOL_SIZE: '5',
    AUDIT_API_TOKENS: `another-token-that-is-long-enough,${TOKEN}`,
    LOG_LEVEL: 'silent',
    // The api role measures consumer lag from the broker: of a topic no test creates, so none is ever reported here.
    KAFKA_TOPIC: `audit-test-no-such-topic-${process.pid}`,
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
  if (options.http) configureHttp(app, config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    app,
    base,
    async call(path, init = {}) {
      const { auth, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (auth !== null) headers.set('authorization', auth ?? `Bearer ${TOKEN}`);
      const res = await fetch(base + path, { ...rest, headers });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    close: () => app.close(),
  };
}
