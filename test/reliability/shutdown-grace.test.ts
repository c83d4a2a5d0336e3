import { IngestRepository } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { startWatchedService } from '../observability/observability-stack';
import { WatchedProcess } from '../support/service';
import { startWatchedEmulator } from '../support/stack';

jest.setTimeout(60_000);

/**
 * SIGTERM with a push in flight that Feishu answers only after 20 s: the reconciler waits for it within
 * SHUTDOWN_GRACE_MS (less its reserve), gives the lease back, and the process exits 0 before the grace is up,
 * rather than waiting out the lease and being cut off at the grace.
 */
describe('shutdown within SHUTDOWN_GRACE_MS', () => {
  let db: TestDatabase;
  let emulator: WatchedProcess;
  const services: WatchedProcess[] = [];
  const appSecret = 'shutdown-grace-app-secret';

  beforeAll(async () => {
    db = await createTestDatabase('grace');
    emulator = await startWatchedEmulator(appSecret);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await emulator?.stop();
    await db?.drop();
  });

  it('drains a slow push and exits 0 within the grace, its lease given back', async () => {
    const GRACE_MS = 6000;
    const service = await startWatchedService({
      databaseUrl: db.url,
      topic: uniqueName('grace'),
      groupId: uniqueName('grace'),
      emulatorUrl: emulator.url,
      appSecret,
      auditTokens: ['shutdown-grace-audit-token-01'],
      env: { BADGE_ROLES: 'reconcile', SHUTDOWN_GRACE_MS: String(GRACE_MS), FEISHU_TIMEOUT_MS: '20000', RECONCILE_LEASE_MS: '41000', LOG_LEVEL: 'info' },
      track: services,
    });
    const ready = async () => (await (await fetch(`${service.url}/health/ready`)).json()) as { checks: Record<string, { ok: boolean; detail?: any }> };
    await fetch(`${emulator.url}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: 20_000 }) });
    await new IngestRepository(db.ds).applyBatch([event('ou_grace', 'approval', 1, counts(2))], []);
    await waitFor('a push in flight', async () => (await ready()).checks.reconcile?.detail?.inflight > 0, 20_000, 50);

    const t0 = Date.now();
    const code = await service.stop();
    const tookMs = Date.now() - t0;

    expect({ code, withinGrace: tookMs < GRACE_MS }).toEqual({ code: 0, withinGrace: true });
    expect(service.output()).toContain('leases released at shutdown');
    const [row] = await db.ds.query(`SELECT lease_owner FROM badge_state WHERE user_id = 'ou_grace'`);
    expect(row.lease_owner).toBeNull();
  });
});
