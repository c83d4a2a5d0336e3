import 'reflect-metadata';
import { AppConfigModule } from '@badges/config';
import { commandFailed } from './cli';
import { AuditPartitionsRepository, openDatabase, redactSecrets } from '@badges/store';
import { maintenancePlan } from './audit/audit-retention.service';

/**
 * `npm run migrate`: applies the pending migrations under the migration advisory lock and exits, configured by the
 * service's own environment (DATABASE_URL, DATABASE_CREATE, ...). Deployments run it as a job under a role with DDL
 * rights and start the service with DATABASE_MIGRATE=false under a role without them. It also runs one pass of the
 * audit partition maintenance (create the coming days' partitions, drop those past AUDIT_RETENTION_DAYS), which needs
 * the same rights: run daily, it keeps the trail partitioned when the service's role may not do DDL.
 */
async function main(): Promise<number> {
  let url = '';
  try {
    // Only the database settings matter here; the ingest role alone needs no Feishu or audit credentials.
    const { config } = await AppConfigModule.load({ overrides: { BADGE_ROLES: 'ingest' } });
    url = config.database.url;
    const { ds, applied } = await openDatabase({
      url,
      poolSize: 2,
      create: config.hardening.databaseCreate,
      migrate: true,
      applicationName: 'badge-reconciler-migrate',
    });
    try {
      process.stdout.write(applied.length > 0 ? `migrations applied: ${applied.join(', ')}\n` : 'migrations: nothing to apply\n');
      const partitions = new AuditPartitionsRepository(ds);
      const report = await partitions.maintain(maintenancePlan(await partitions.databaseNow(), config.audit.retentionDays));
      if (report === null) {
        process.stdout.write('audit partitions: another process holds the maintenance lock; skipped\n');
      } else {
        process.stdout.write(`audit partitions: created [${report.created.join(', ')}], dropped [${report.dropped.join(', ')}]\n`);
        if (report.failed.length > 0) {
          const failed = report.failed.map((f) => `${f.action} ${f.day}: ${redactSecrets(f.error, url)}`).join('; ');
          process.stderr.write(`badge-reconciler migrate: audit partition maintenance failed: ${failed}\n`);
          return 1;
        }
      }
      return 0;
    } finally {
      await ds.destroy();
    }
  } catch (e) {
    return commandFailed('migrate', e, url);
  }
}

void main().then((code) => process.exit(code));
