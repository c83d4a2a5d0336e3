import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '@badges/config';
import helmet from 'helmet';

/** Security headers, no X-Powered-By, OpenAPI at /docs unless AUDIT_API_DOCS=false, load-balancer-safe keep-alive. */
export function configureHttp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.use(helmet());
  if (config.hardening.http.docs) {
    const doc = new DocumentBuilder()
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
