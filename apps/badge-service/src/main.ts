import './compile-cache';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppConfig, ConfigError, loadConfig } from '@badges/config';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';

function configOrExit(): AppConfig {
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`badge-reconciler: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  // rawBody: the event callback's signature is over the bytes as received (FeishuCallbackController).
  const app = await NestFactory.create(AppModule.forRoot(config), { bufferLogs: true, rawBody: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  const doc = new DocumentBuilder()
    .setTitle('Badge reconciler audit API')
    .setDescription('Explains any Feishu app badge: desired and applied state, sources, history, pushes.')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc));
  await app.listen(config.http.port, config.http.host);
  app.get(Logger).log({ port: config.http.port, roles: [...config.roles] }, 'badge-reconciler started');
}

main().catch((e) => {
  process.stderr.write(`badge-reconciler: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
