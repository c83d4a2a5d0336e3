import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '@badges/config';
import helmet from 'helmet';

/**
 * Security headers, no X-Powered-By, OpenAPI at /docs unless AUDIT_API_DOCS=false, load-balancer-safe keep-alive.
 * The audit API's answers are live, per-user data read with a bearer token: `Cache-Control: no-store` keeps them
 * out of browser and proxy caches, and with nothing cached there is nothing to revalidate, so express does not hash
 * every body for an ETag (a SHA-1 per response; the console's own files set their caching themselves).
 */
export function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet());
  app.use('/v1', (_req: unknown, res: import('node:http').ServerResponse, next: () => void) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  if (config.hardening.http.docs) {
    const doc = new DocumentBuilder()
      // 3.1: nullable answers are JSON Schema unions with null, which strict validators and generated clients read
      // alike (3.0's `nullable` beside a $ref is ignored by a strict reading).
      .setOpenAPIVersion('3.1.0')
      .setTitle('Badge reconciler audit API')
      .setDescription('Explains any Feishu app badge: desired and applied state, sources, history, pushes.')
      .addBearerAuth()
      .build();
    SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  }
  const server = app.getHttpServer() as import('node:http').Server;
  server.keepAliveTimeout = config.hardening.http.keepAliveTimeoutMs;
  server.headersTimeout = config.hardening.http.headersTimeoutMs;
}
