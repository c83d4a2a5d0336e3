import './compile-cache';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppConfig, AppConfigModule, ConfigError, LoadedConfig } from '@badges/config';
import { DatabaseStartupError, redactSecrets } from '@badges/store';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { ReadinessRegistry } from './health/readiness.registry';
import { configureHttp } from './http-hardening';
import { startIngestMicroservice } from './ingest/ingest.microservice';

async function configOrExit(): Promise<LoadedConfig> {
  try {
    return await AppConfigModule.load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`badge-reconciler: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
}

let databaseUrl: string | undefined;

async function main(): Promise<void> {
  const { config, module: configModule } = await configOrExit();
  databaseUrl = config.database.url;
  // rawBody: the event callback's signature is over the bytes as received (FeishuCallbackController).
  // abortOnError false: a failing provider (the database, say) rejects here and is reported below, instead of
  // Nest logging the raw error into the log buffer and exiting.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, configModule), { bufferLogs: true, rawBody: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  configureHttp(app, config);
  drainOnSignals(app, config);
  if (config.roles.has('ingest')) await startIngestMicroservice(app);
  await app.listen(config.http.port, config.http.host);
  app.get(Logger).log({ port: config.http.port, roles: [...config.roles] }, 'badge-reconciler started');
}

/**
 * SIGTERM/SIGINT: readiness fails at once, then the app closes (consumers stop, pushes in flight finish or give
 * back their leases, HTTP closes). Whatever is still running when SHUTDOWN_GRACE_MS is up is abandoned: the
 * process exits before the orchestrator's SIGKILL (Kubernetes: 30 s after SIGTERM).
 */
function drainOnSignals(app: NestExpressApplication, config: AppConfig): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    const log = app.get(Logger);
    log.log({ signal, graceMs: config.hardening.shutdownGraceMs }, 'shutting down');
    app.get(ReadinessRegistry).drain();
    const hard = setTimeout(() => {
      log.error({ graceMs: config.hardening.shutdownGraceMs }, 'shutdown grace exceeded; exiting');
      app.flushLogs();
      process.exit(1);
    }, config.hardening.shutdownGraceMs);
    app.close().then(
      () => {
        clearTimeout(hard);
        process.exit(0);
      },
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((e) => {
  const message = e instanceof DatabaseStartupError ? e.message : redactSecrets(e instanceof Error ? e.message : String(e), databaseUrl);
  process.stderr.write(`badge-reconciler: failed to start: ${message}\n`);
  process.exit(1);
});
