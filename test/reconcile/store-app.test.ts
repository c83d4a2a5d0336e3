import { INestApplication } from '@nestjs/common';
import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';
import { freePort } from '../support/ports';
import { emulatorJson, startEmulator, startService } from '../support/stack';
import { EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';

jest.setTimeout(90_000);

const STORE = { id: 'cli_store_app', secret: 'store-app-secret-value-7', verification: 'verification-token-1234' };

describe('store app: app_ticket via the event callback, one token and one budget per tenant', () => {
  let db: TestDatabase;
  let emulator: EmulatorHandle;
  const apps: INestApplication[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await emulator.close();
    await db.drop();
  });

  it('takes the ticket at one replica, shares it through Postgres, and pushes every tenant badge', async () => {
    db = await createTestDatabase('storeapp');
    const ingest = new IngestRepository(db.ds);
    const portA = await freePort();
    emulator = await startEmulator({
      EMULATOR_STORE_APP_ID: STORE.id,
      EMULATOR_STORE_APP_SECRET: STORE.secret,
      EMULATOR_VERIFICATION_TOKEN: STORE.verification,
      EMULATOR_EVENT_CALLBACK_URL: `http://127.0.0.1:${portA}/feishu/events`,
      EMULATOR_STORE_TENANT_KEYS: 'tenant_a,tenant_b',
    });
    const storeEnv = {
      FEISHU_APP_TYPE: 'store',
      FEISHU_APP_ID: STORE.id,
      FEISHU_APP_SECRET: STORE.secret,
      FEISHU_VERIFICATION_TOKEN: STORE.verification,
      FEISHU_RATE_LIMIT: '200',
    };
    const events: BadgeEvent[] = [];
    for (const tenant of ['tenant_a', 'tenant_b']) for (let i = 0; i < 20; i++) events.push(event(`ou_s${i}`, 'approval', 1, counts(i + (tenant === 'tenant_a' ? 0 : 100)), { tenantKey: tenant }));
    const { newest, superseded } = newestPerSource(events);
    await ingest.applyBatch(newest, superseded);

    // Replica A receives the app_ticket at its callback (it asks Feishu to resend one at start).
    apps.push(await startService(db.url, emulator.url, { ...storeEnv, HTTP_PORT: String(portA) }));
    await waitFor('app_ticket stored', async () => (await db.ds.query(`SELECT count(*)::int n FROM feishu_app_ticket`))[0].n === 1);
    await apps.splice(0)[0].close();
    await db.ds.query(`UPDATE badge_state SET pushed_revision = 0, status = 'pending', next_attempt_at = now(), lease_owner = NULL`);

    // Replica B never sees a callback: it must read the ticket from Postgres.
    apps.push(await startService(db.url, emulator.url, storeEnv));
    await waitFor('every user in sync', async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE desired_revision > pushed_revision`))[0].n === 0, 60_000);
    for (const e of newest) {
      const b = await emulatorJson(emulator, `/_emulator/badges/${e.userId}?tenantKey=${e.tenantKey}`);
      expect({ user: e.userId, tenant: e.tenantKey, pc: b.pc?.web_app }).toEqual({ user: e.userId, tenant: e.tenantKey, pc: e.counts.pc.web_app });
    }
    const budgets = await db.ds.query(`SELECT scope FROM push_budget ORDER BY scope`);
    expect(budgets.map((r: { scope: string }) => r.scope)).toEqual(['tenant_a', 'tenant_b']);
  });
});
