import { INestApplication } from '@nestjs/common';
import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { EmulatorHandle } from '../../apps/feishu-emulator/src/emulator.app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/kafka';
import { AUDIT_TOKEN, emulatorJson, startEmulator, startService } from '../support/stack';

jest.setTimeout(120_000);

/**
 * FEISHU_MODE=shadow: the whole pipeline runs and Feishu hears nothing, not even a token request; then the same
 * database switched to live pushes every user's full state once and converges.
 */
describe('shadow mode, then live, on the real Postgres and the emulator', () => {
  let db: TestDatabase;
  let emulator: EmulatorHandle;
  let ingest: IngestRepository;
  const apps: INestApplication[] = [];

  const apply = (events: BadgeEvent[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const q = async (sql: string, params: unknown[] = []) => db.ds.query(sql, params);
  const requestsToFeishu = async () => {
    const s = await emulatorJson(emulator, '/_emulator/stats');
    return Object.values(s.requests as Record<string, number>).reduce((n, x) => n + x, 0);
  };
  const stats = async (app: INestApplication) => {
    const r = await fetch(`${await app.getUrl()}/v1/stats`, { headers: { authorization: `Bearer ${AUDIT_TOKEN}` } });
    return (await r.json()) as any;
  };

  beforeEach(async () => {
    db = await createTestDatabase('shadow');
    ingest = new IngestRepository(db.ds);
    emulator = await startEmulator();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await emulator.close();
    await db.drop();
  });

  const USERS = 40;
  const seed = (sequence: number, bump = 0) =>
    apply(Array.from({ length: USERS }, (_, i) => event(`ou_s${i}`, 'approval', sequence, counts((i % 5) + bump, 1, i % 3, 0))));

  it('records every would-be push with outcome shadow and its payload while the emulator gets no request at all', async () => {
    await seed(1);
    const shadow = await startService(db.url, emulator.url, { FEISHU_MODE: 'shadow', BADGE_ROLES: 'reconcile,api' });
    apps.push(shadow);
    await waitFor('every user shadow-pushed', async () => (await q(`SELECT count(*)::int n FROM badge_state WHERE status = 'in_sync'`))[0].n === USERS, 60_000, 100);
    await seed(2, 1); // live changes keep flowing through the pipeline
    await waitFor('the changes shadow-pushed too', async () => (await q(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'shadow'`))[0].n === 2 * USERS, 60_000, 100);

    expect(await requestsToFeishu()).toBe(0);
    const [first] = await q(`SELECT new_counts, version, detail FROM badge_audit WHERE kind = 'push' AND user_id = 'ou_s3' ORDER BY id LIMIT 1`);
    expect(first.new_counts).toEqual({ pc: { web_app: 3, gadget: 1 }, mobile: { web_app: 0, gadget: 0 } });
    expect(first.detail).toContain('shadow mode');
    // The second would-be push of each user is the diff a live push would send: only the side that changed.
    const [second] = await q(`SELECT new_counts FROM badge_audit WHERE kind = 'push' AND user_id = 'ou_s3' ORDER BY id OFFSET 1 LIMIT 1`);
    expect(Object.keys(second.new_counts)).toEqual(['pc']);

    const s = await stats(shadow);
    expect(s.mode.feishu).toBe('shadow');
    expect(s.mode.shadow.pushesLastHour).toBe(2 * USERS);
    expect(s.mode.shadow.busiestMinutePerSecond).toBeGreaterThan(0);
    const ready = await (await fetch(`${await shadow.getUrl()}/health/ready`)).json();
    expect(JSON.stringify(ready)).toContain('shadow');
    expect(await requestsToFeishu()).toBe(0);
  });

  it('switched to live, pushes every user in full once (Feishu saw nothing) and converges; a shadow replica left running claims nothing', async () => {
    await seed(1);
    const shadow = await startService(db.url, emulator.url, { FEISHU_MODE: 'shadow' });
    apps.push(shadow);
    await waitFor('every user shadow-pushed', async () => (await q(`SELECT count(*)::int n FROM badge_state WHERE status = 'in_sync'`))[0].n === USERS, 60_000, 100);
    expect(await requestsToFeishu()).toBe(0);

    const live = await startService(db.url, emulator.url, { FEISHU_MODE: 'live' });
    apps.push(live);
    await waitFor('every user applied at Feishu', async () => (await q(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'applied'`))[0].n >= USERS, 60_000, 100);
    await waitFor('every user in sync', async () => (await q(`SELECT count(*)::int n FROM badge_state WHERE status <> 'in_sync' OR desired_revision > pushed_revision`))[0].n === 0, 60_000, 100);
    await seed(2, 1);
    await waitFor('live changes applied', async () => (await q(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'applied'`))[0].n >= 2 * USERS, 60_000, 100);

    // Each user's first live push carried both sides, though shadow mode had recorded them as applied.
    const firsts = await q(`
      SELECT DISTINCT ON (user_id) user_id, new_counts FROM badge_audit WHERE kind = 'push' AND outcome = 'applied' ORDER BY user_id, id`);
    expect(firsts).toHaveLength(USERS);
    for (const f of firsts) expect(Object.keys(f.new_counts).sort()).toEqual(['mobile', 'pc']);
    // Every badge at Feishu is the desired one.
    for (const r of await q(`SELECT user_id, desired_pc_web_app pw, desired_mobile_web_app mw FROM badge_state`)) {
      const b = await emulatorJson(emulator, `/_emulator/badges/${r.user_id}`);
      expect([r.user_id, b.pc?.web_app, b.mobile?.web_app]).toEqual([r.user_id, r.pw, r.mw]);
    }
    // The shadow replica still running recorded nothing after the switch.
    const [{ switched }] = await q(`SELECT changed_at AS switched FROM service_mode`);
    const late = await q(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'shadow' AND at > $1`, [switched]);
    expect(late[0].n).toBe(0);
    const why = await q(`SELECT detail FROM badge_audit WHERE kind = 'resync' AND user_id = 'ou_s0'`);
    expect(why[0].detail).toContain('FEISHU_MODE switched from shadow to live');
  });
});
