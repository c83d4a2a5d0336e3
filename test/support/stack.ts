import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@badges/config';
import { AppModule } from '../../apps/badge-service/src/app.module';
import { startIngestMicroservice } from '../../apps/badge-service/src/ingest/ingest.microservice';
import { createEmulatorApp, EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';
import { parseEmulatorConfig } from '../../apps/feishu-emulator/src/config/emulator.config';
import { freePort } from './ports';
import { waitFor } from './wait';
import { EMULATOR_MAIN, httpReady, kafkaBrokersEnv, runNode, watch, WatchedProcess } from './service';

export const APP_ID = 'cli_test_app';
export const APP_SECRET = 'test-app-secret-value-42';
export const AUDIT_TOKEN = 'test-audit-token-0123456789';

export async function startEmulator(env: Record<string, string> = {}): Promise<EmulatorHandle> {
  return createEmulatorApp(
    parseEmulatorConfig({ EMULATOR_PORT: '0', EMULATOR_APP_ID: APP_ID, EMULATOR_APP_SECRET: APP_SECRET, EMULATOR_RATE_LIMIT: '0', ...env }),
  );
}

/** The badge service in this process, with the roles and overrides given. */
export async function startService(databaseUrl: string, emulatorUrl: string, env: Record<string, string> = {}): Promise<INestApplication> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    FEISHU_BASE_URL: emulatorUrl,
    FEISHU_APP_ID: APP_ID,
    FEISHU_APP_SECRET: APP_SECRET,
    AUDIT_API_TOKENS: AUDIT_TOKEN,
    BADGE_ROLES: 'reconcile',
    FEISHU_RATE_LIMIT: '100000',
    PUSH_MIN_INTERVAL_MS: '0',
    RECONCILE_POLL_MS: '200',
    BACKOFF_BASE_MS: '50',
    BACKOFF_MAX_MS: '500',
    CONFLICT_RETRY_MS: '20',
    FEISHU_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'silent',
    HTTP_PORT: '0',
    ...kafkaBrokersEnv(),
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication({ logger: false, rawBody: true });
  app.enableShutdownHooks();
  if (config.roles.has('ingest')) await startIngestMicroservice(app);
  await app.listen(config.http.port, '127.0.0.1');
  return app;
}

/** The Feishu emulator as a process of its own, its output kept. */
export async function startWatchedEmulator(appSecret: string, env: Record<string, string> = {}): Promise<WatchedProcess> {
  const port = await freePort();
  const p = watch(
    runNode(EMULATOR_MAIN, { EMULATOR_PORT: String(port), EMULATOR_APP_ID: APP_ID, EMULATOR_APP_SECRET: appSecret, EMULATOR_RATE_LIMIT: '0', ...env }),
    `http://127.0.0.1:${port}`,
  );
  await waitFor('emulator process up', () => httpReady(`${p.url}/_emulator/health`), 30_000, 100);
  return p;
}

export interface EmulatorProcess {
  url: string;
  close(): Promise<void>;
  /** SIGSTOP: Feishu stalls. The kernel still accepts connections and buffers requests; nothing is answered. */
  stall(): void;
  /** SIGCONT: the stalled Feishu reads and answers what was sent meanwhile, even to clients that gave up. */
  resume(): void;
}

/**
 * The emulator as a process of its own, for tests whose timing must not share an event loop with the service or
 * with jest (a stalled jest process would stall an in-process emulator, and with it every request in flight).
 */
export async function startEmulatorProcess(env: Record<string, string> = {}): Promise<EmulatorProcess> {
  const p = await startWatchedEmulator(APP_SECRET, env);
  const child = p.process.child;
  return {
    url: p.url,
    close: async () => {
      child.kill('SIGCONT'); // a stalled process would not act on SIGTERM
      await p.stop();
    },
    stall: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

export async function emulatorJson<T = any>(emulator: { url: string }, path: string, init?: RequestInit): Promise<T> {
  const r = await fetch(`${emulator.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init?.headers ?? {}) } });
  return (await r.json()) as T;
}
