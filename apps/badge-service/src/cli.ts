import { ConfigError } from '@badges/config';
import { DatabaseStartupError, redactSecrets } from '@badges/store';

/**
 * How a command (`npm run migrate`, `npm run snapshot`) ends on a failure: the reason on stderr, never the
 * database URL's password, and 78 (EX_CONFIG) for bad configuration, 1 for anything else.
 */
export function commandFailed(command: string, e: unknown, databaseUrl: string): number {
  if (e instanceof ConfigError) {
    process.stderr.write(`badge-reconciler ${command}: ${e.message}\n`);
    return 78;
  }
  const message = e instanceof DatabaseStartupError ? e.message : redactSecrets(e instanceof Error ? e.message : String(e), databaseUrl);
  process.stderr.write(`badge-reconciler ${command}: failed: ${message}\n`);
  return 1;
}
