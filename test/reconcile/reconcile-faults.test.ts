import { INestApplication } from '@nestjs/common';
import { BadgeEvent, newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { Metrics } from '../../apps/badge-service/src/metrics/metrics.service';
import { createTestDatabase, TestDatabase } from '../support/database';
import { freezingProxy } from '../support/freezing-proxy';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';
import { runNode, RunningProcess, SERVICE_MAIN } from '../support/service';
import { APP_ID, APP_SECRET, AUDIT_TOKEN, EmulatorProcess, emulatorJson, startEmulator, startEmulatorProcess, startService } from '../support/stack';

jest.setTimeout(120_000);

describe('reconciler under quota, rate-limit storms, token expiry and crashes', () => {
  let db: TestDatabase;
  let emulator: { url: string; close(): Promise<void> };
  let emulatorProcess: EmulatorProcess | undefined;
  let ingest: IngestRepository;
  const apps: INestApplication[] = [];
  const children: RunningProcess[] = [];

  const apply = (events: BadgeEvent[]) => {
    const { newest, superseded } = newestPerSource(events);
    return ingest.applyBatch(newest, superseded);
  };
  const seed = (n: number, prefix: string, seq = 1) =>
    apply(Array.from({ length: n }, (_, i) => event(`${prefix}${i}`, 'approval', seq, counts((i % 5) + seq, 0, seq, 1))));
  const allInSync = (timeoutMs = 90_000) =>
    waitFor(
      'every user in sync',
      async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE desired_revision > pushed_revision OR status <> 'in_sync'`))[0].n === 0,
      timeoutMs,
      100,
    );
  const stats = () => emulatorJson(emulator, '/_emulator/stats');
  const post = (path: string, body: object) => emulatorJson(emulator, path, { method: 'POST', body: JSON.stringify(body) });
  const code = (s: any, c: string) => s.codes?.['app_badge/set']?.[c] ?? 0;
  const expectFeishuShowsDesired = async () => {
    const rows = await db.ds.query(`SELECT user_id, desired_pc_web_app pw, desired_mobile_web_app mw FROM badge_state`);
    for (const r of rows) {
      const b = await emulatorJson(emulator, `/_emulator/badges/${r.user_id}`);
      expect({ u: r.user_id, pc: b.pc?.web_app, mobile: b.mobile?.web_app }).toEqual({ u: r.user_id, pc: r.pw, mobile: r.mw });
    }
  };

  /**
   * The service pushes each user from one place at a time, but it cannot know when Feishu is done with a request it
   * gave up on (a timeout, a replica killed mid-push): Feishu may still hold it, and answers 213004 to the next one.
   * So every 213004 must follow an ambiguous push of the same user (timed out, or a lease that expired with its
   * push in flight), with nothing between but other 213004s. A user pushed twice at once by the service breaks
   * this.
   */
  const expectOverlapOnlyAfterAmbiguity = async () => {
    const rows: { user_id: string; outcome: string; http_status: number | null }[] = await db.ds.query(
      `SELECT user_id, outcome, http_status FROM badge_audit WHERE kind = 'push' ORDER BY user_id, at, id`,
    );
    const unexplained: string[] = [];
    let user = '';
    let ambiguous = false;
    let overlaps = 0;
    for (const r of rows) {
      if (r.user_id !== user) [user, ambiguous] = [r.user_id, false];
      if (r.outcome === 'concurrent') {
        overlaps++;
        if (!ambiguous) unexplained.push(r.user_id);
      } else if (r.http_status !== null) {
        // Any other answer: Feishu held no other request for the user just then.
        ambiguous = false;
      } else if (r.outcome === 'unknown' || r.outcome === 'transient' || r.outcome === 'unexpected') {
        // Sent, and no answer: a timeout, a dropped connection, or a lease that expired with the push in flight.
        ambiguous = true;
      } // Not sent (deferred, not_sent, no-op): changes nothing at Feishu.
    }
    expect(unexplained).toEqual([]);
    // The emulator counts also the 213004s it gave to requests whose client had already gone.
    expect(overlaps).toBeLessThanOrEqual(code(await stats(), '213004'));
  };

  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.kill('SIGKILL')));
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await emulator.close();
    emulatorProcess = undefined;
    await db.drop();
  });
  const setup = async (emulatorEnv: Record<string, string> = {}, ownProcess = false) => {
    db = await createTestDatabase('rfaults');
    ingest = new IngestRepository(db.ds);
    emulatorProcess = ownProcess ? await startEmulatorProcess(emulatorEnv) : undefined;
    emulator = emulatorProcess ?? (await startEmulator(emulatorEnv));
  };

  it('two replicas together stay within FEISHU_RATE_LIMIT at the emulator, with no 429', async () => {
    await setup({ EMULATOR_RATE_LIMIT: '40' }, true);
    await seed(240, 'ou_q');
    for (let i = 0; i < 2; i++) apps.push(await startService(db.url, emulator.url, { FEISHU_RATE_LIMIT: '40' }));
    await allInSync();
    const s = await stats();
    expect(code(s, '99991400') + (s.statuses?.['app_badge/set']?.['429'] ?? 0)).toBe(0);
    expect(s.rateLimit.maxAcceptedPerWindow['app_badge/set'][`${APP_ID}/tenant_emulator`]).toBeLessThanOrEqual(40);
    await expectFeishuShowsDesired();
  });

  it('two replicas that cannot keep up with the quota alone share its budget: both push, together within it, no 429', async () => {
    // 100 ms per answer and 2 pushes in flight: a replica alone does at most 20 of the 40 pushes/s allowed, so it
    // leaves slots free and the other joins the budget (SlotGrid: a window's gap, then the shared spacing).
    await setup({ EMULATOR_RATE_LIMIT: '40', EMULATOR_LATENCY_MS: '100' }, true);
    await seed(240, 'ou_j');
    for (let i = 0; i < 2; i++) apps.push(await startService(db.url, emulator.url, { FEISHU_RATE_LIMIT: '40', RECONCILE_CONCURRENCY: '2' }));
    await allInSync();
    const s = await stats();
    expect(code(s, '99991400') + (s.statuses?.['app_badge/set']?.['429'] ?? 0)).toBe(0);
    expect(s.rateLimit.maxAcceptedPerWindow['app_badge/set'][`${APP_ID}/tenant_emulator`]).toBeLessThanOrEqual(40);
    const applied = await Promise.all(apps.map(async (a) => (await a.get(Metrics).pushes.get()).values.filter((v) => v.labels.outcome === 'applied').reduce((n, v) => n + v.value, 0)));
    for (const n of applied) expect(n).toBeGreaterThan(0);
    await expectFeishuShowsDesired();
  });

  it('a 429 storm pauses every replica for the reset, then pushing resumes and converges', async () => {
    await setup({ EMULATOR_RATE_LIMIT: '50' }, true);
    await seed(150, 'ou_s');
    await post('/_emulator/faults', { rateLimitStorm: { seconds: 2, resetSeconds: 1 } });
    for (let i = 0; i < 2; i++) apps.push(await startService(db.url, emulator.url, { FEISHU_RATE_LIMIT: '50' }));
    await allInSync();
    const s = await stats();
    const limited = s.statuses?.['app_badge/set']?.['429'] ?? 0;
    expect(limited).toBeGreaterThan(0);
    // Each replica stops at its first 429 of each reset period (2 s storm, 1 s reset: about 3 periods), whatever
    // it had reserved; a client that did not pause would see about 100 (2 s at 50/s).
    expect(limited).toBeLessThanOrEqual(12);
    expect(s.rateLimit.maxAcceptedPerWindow['app_badge/set'][`${APP_ID}/tenant_emulator`]).toBeLessThanOrEqual(50);
    const paused = await db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'rate_limited'`);
    expect(paused[0].n).toBe(limited);
    await expectFeishuShowsDesired();
  });

  it('tokens living 3 s refresh during a long run and no push fails for it', async () => {
    await setup({ EMULATOR_TOKEN_TTL_SECONDS: '3', EMULATOR_RATE_LIMIT: '0' });
    apps.push(await startService(db.url, emulator.url, { FEISHU_RATE_LIMIT: '60' }));
    for (let round = 1; round <= 4; round++) {
      await seed(100, 'ou_t', round);
      await allInSync();
    }
    const s = await stats();
    expect(s.tokens.tenantTokensIssued).toBeGreaterThan(1); // the run outlived a token
    const failed = await db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome <> 'applied'`);
    expect(failed[0].n).toBe(0);
    await expectFeishuShowsDesired();
  });

  it('a reconcile process killed with SIGKILL mid-push: its leases expire, are taken over, and every user converges', async () => {
    // The emulator in a process of its own: in jest's, a pause of jest (a collection of its large heap late in the
    // suite) held the requests in flight past the 500 ms timeout, and their retries met them (213004).
    await setup({ EMULATOR_LATENCY_MS: '150', EMULATOR_RATE_LIMIT: '0' }, true);
    await seed(400, 'ou_k');
    const env = {
      BADGE_ROLES: 'reconcile',
      DATABASE_URL: db.url,
      FEISHU_BASE_URL: emulator.url,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      AUDIT_API_TOKENS: AUDIT_TOKEN,
      FEISHU_RATE_LIMIT: '200',
      RECONCILE_LEASE_MS: '2000',
      FEISHU_TIMEOUT_MS: '500',
      HTTP_PORT: '0',
    };
    const victim = runNode(SERVICE_MAIN, env);
    children.push(victim);
    await waitFor('some pushes done', async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE status = 'in_sync'`))[0].n > 20, 60_000);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const orphaned = (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE lease_owner IS NOT NULL`))[0].n;
    expect(orphaned).toBeGreaterThan(0);
    children.push(runNode(SERVICE_MAIN, env));
    await allInSync();
    await expectFeishuShowsDesired();
    await expectOverlapOnlyAfterAmbiguity();
  });

  it('Postgres vanishing without closing its connections (a failover): queries on them give up, new connections take over, every user converges', async () => {
    await setup();
    await seed(40, 'ou_f');
    const proxy = await freezingProxy(db.url);
    try {
      apps.push(await startService(proxy.url, emulator.url, { DATABASE_QUERY_TIMEOUT_MS: '1000' }));
      await allInSync();
      // Every connection the service holds (the pool's and its LISTEN connection) stops answering; new ones work.
      proxy.freeze();
      await seed(40, 'ou_f', 2);
      await allInSync(60_000);
      await expectFeishuShowsDesired();
    } finally {
      await proxy.close(); // before the app closes: a frozen connection would hold its shutdown
    }
  });

  it('Feishu stalling past the timeout: what it applies late is not trusted, 213004 comes only after a push given up on, and the newer counts win', async () => {
    // Answers take 300 ms once Feishu runs again: a request given up on and its retry, read together, overlap.
    await setup({ EMULATOR_LATENCY_MS: '300', EMULATOR_RATE_LIMIT: '0' }, true);
    await seed(10, 'ou_z');
    apps.push(await startService(db.url, emulator.url, { FEISHU_TIMEOUT_MS: '500', RECONCILE_LEASE_MS: '2000', BACKOFF_BASE_MS: '100', BACKOFF_MAX_MS: '200' }));
    await allInSync();
    emulatorProcess!.stall();
    // New counts while Feishu holds requests: what it applies late may be older than what is desired.
    await seed(10, 'ou_z', 2);
    await waitFor(
      'users whose push and retry both timed out while Feishu stalled',
      async () =>
        (
          await db.ds.query(
            `SELECT count(*)::int n FROM (SELECT user_id FROM badge_audit WHERE kind = 'push' AND outcome = 'transient' GROUP BY user_id HAVING count(*) >= 2) t`,
          )
        )[0].n >= 5,
      60_000,
    );
    emulatorProcess!.resume();
    await allInSync();
    await expectFeishuShowsDesired();
    // Feishu did see two requests at once for a user: the ones the service had given up on and their retries.
    expect((await stats()).concurrency.usersOverOne).toBeGreaterThan(0);
    await expectOverlapOnlyAfterAmbiguity();
  });
});
