import 'reflect-metadata';
import { ConfigError, loadConfig } from '@badges/config';
import { DatabaseStartupError, openDatabase, redactSecrets } from '@badges/store';

/**
 * `npm run migrate`: applies the pending migrations under the migration advisory lock and exits, configured by the
 * service's own environment (DATABASE_URL, DATABASE_CREATE, ...). Deployments run it as a job under a role with DDL
 * rights and start the service with DATABASE_MIGRATE=false under a role without them.
 */
async function main(): Promise<number> {
  let url = '';
  try {
    // Only the database settings matter here; the ingest role alone needs no Feishu or audit credentials.
    const config = loadConfig({ ...process.env, BADGE_ROLES: 'ingest' });
    url = config.database.url;
    const { ds, applied } = await openDatabase({
      url,
      poolSize: 2,
      create: config.hardening.databaseCreate,
      migrate: true,
      applicationName: 'badge-reconciler-migrate',
    });
    await ds.destroy();
    process.stdout.write(applied.length > 0 ? `migrations applied: ${applied.join(', ')}\n` : 'migrations: nothing to apply\n');
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`badge-reconciler migrate: ${e.message}\n`);
      return 78; // EX_CONFIG
    }
    const message = e instanceof DatabaseStartupError ? e.message : redactSecrets(e instanceof Error ? e.message : String(e), url);
    process.stderr.write(`badge-reconciler migrate: failed: ${message}\n`);
    return 1;
  }
}

void main().then((code) => process.exit(code));
