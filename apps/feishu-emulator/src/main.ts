import pino from 'pino';
import { type EmulatorConfig, EmulatorConfigError, loadEmulatorConfig } from './config/emulator.config';
import { createEmulatorApp } from './emulator.app';

function configOrExit(): EmulatorConfig {
  try {
    return loadEmulatorConfig();
  } catch (error) {
    if (!(error instanceof EmulatorConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const logger = pino({ name: 'feishu-emulator' });
  const emulator = await createEmulatorApp(config, { logger });
  logger.info(
    { url: emulator.url, port: emulator.port, rateLimit: config.rateLimits.appBadgeSet, logRequests: config.logRequests },
    'feishu emulator listening',
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ signal, error: error instanceof Error ? error.message : 'unknown' }, 'feishu emulator failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`feishu emulator failed to start: ${error instanceof Error ? error.message : 'unknown error'}\n`);
  process.exit(1);
});
