import { INestApplication } from '@nestjs/common';
import { createTestDatabase, TestDatabase } from '../support/database';
import { waitFor } from '../support/wait';
import { freePort } from '../support/ports';
import { emulatorJson, startEmulator, startService } from '../support/stack';
import { EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';

jest.setTimeout(120_000);

const STORE = { id: 'cli_store_fair', secret: 'store-app-secret-value-9', verification: 'verification-token-5678' };

/** Store apps: each tenant has its own quota at Feishu, so one tenant's backlog must not delay another's pushes. */
describe('store app: tenants served fairly', () => {
  let db: TestDatabase;
  let emulator: EmulatorHandle;
  const apps: INestApplication[] = [];

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await emulator?.close();
    await db?.drop();
  });

  it("a tenant with one due user is pushed while another tenant's 100,000 due users are still waiting", async () => {
    db = await createTestDatabase('fair');
    const port = await freePort();
    emulator = await startEmulator({
      EMULATOR_STORE_APP_ID: STORE.id,
      EMULATOR_STORE_APP_SECRET: STORE.secret,
      EMULATOR_VERIFICATION_TOKEN: STORE.verification,
      EMULATOR_EVENT_CALLBACK_URL: `http://127.0.0.1:${port}/feishu/events`,
      EMULATOR_STORE_TENANT_KEYS: 'tenant_big,tenant_small',
    });
    // The big tenant's backlog is older than the small tenant's only user: oldest-first alone would serve it first.
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_revision, next_attempt_at, desired_changed_at)
      SELECT 'tenant_big', 'open_id', 'ou_big' || g, 1, 1, now() - interval '1 hour', now() - interval '1 hour'
      FROM generate_series(1, 100000) g`);
    await db.ds.query(`
      INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_revision)
      VALUES ('tenant_small', 'open_id', 'ou_small', 7, 1)`);
    await db.ds.query(`ANALYZE badge_state`);
    const started = Date.now();
    apps.push(
      await startService(db.url, emulator.url, {
        FEISHU_APP_TYPE: 'store',
        FEISHU_APP_ID: STORE.id,
        FEISHU_APP_SECRET: STORE.secret,
        FEISHU_VERIFICATION_TOKEN: STORE.verification,
        FEISHU_RATE_LIMIT: '50',
        HTTP_PORT: String(port),
      }),
    );
    await waitFor(
      "the small tenant's user at Feishu",
      async () => (await fetch(`${emulator.url}/_emulator/badges/ou_small?tenantKey=tenant_small`)).status === 200,
      60_000,
      20,
    );
    const tookMs = Date.now() - started;
    const badge = await emulatorJson(emulator, '/_emulator/badges/ou_small?tenantKey=tenant_small');
    expect(badge.pc).toMatchObject({ web_app: 7, gadget: 0 });
    const [{ waiting }] = await db.ds.query(`SELECT count(*)::int AS waiting FROM badge_state WHERE tenant_key = 'tenant_big' AND desired_revision > pushed_revision`);
    expect(waiting).toBeGreaterThan(99_000);
    console.log(`[fairness] small tenant pushed ${tookMs} ms after start, with ${waiting} of the big tenant's users still due`);
  });
});
