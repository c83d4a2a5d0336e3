import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { newestPerSource } from '@badges/contracts';
import { loadConfig } from '@badges/config';
import { IngestRepository, ReconcileRepository } from '@badges/store';
import { AppModule } from '../../apps/badge-service/src/app.module';
import { Clock } from '../../apps/badge-service/src/common/clock';
import { Metrics } from '../../apps/badge-service/src/metrics/metrics.service';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';
import { waitFor } from '../support/wait';
import { APP_ID, APP_SECRET, AUDIT_TOKEN, emulatorJson, startEmulatorProcess } from '../support/stack';

jest.setTimeout(120_000);

/** A replica whose clock is off from the database's by `offsetMs`. */
class SkewedClock extends Clock {
  constructor(private readonly offsetMs: number) {
    super();
  }
  override now(): number {
    return Date.now() + this.offsetMs;
  }
}

const RATE = 20;
/** The service's budget, 10% under the emulator's limit: what this file tests is the clocks and the token retry.
 * Send jitter beyond the 15 ms a push may be late (a loaded machine's event loop) is the performance issue's
 * target ("zero 429 on a busy box"), not this file's. */
const SERVICE_RATE = 18;

/**
 * Replicas whose clocks disagree with the database's, and tokens rotated mid-run, against the emulator's real
 * rate limit: no push is lost to a slot that only seemed to have passed, and nothing goes over the quota.
 */
describe('reconciler under skewed clocks and token rotation, against the emulator quota', () => {
  let db: TestDatabase;
  // Its own process: its rate windows must not share an event loop (and its stalls) with the replicas.
  let emulator: { url: string; close(): Promise<void> };
  const apps: INestApplication[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('clocks');
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await emulator?.close();
    await db.drop();
  });

  const replica = async (offsetMs: number, env: Record<string, string> = {}) => {
    const config = loadConfig({
      DATABASE_URL: db.url,
      FEISHU_BASE_URL: emulator.url,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      AUDIT_API_TOKENS: AUDIT_TOKEN,
      BADGE_ROLES: 'reconcile',
      FEISHU_RATE_LIMIT: String(SERVICE_RATE),
      PUSH_MIN_INTERVAL_MS: '0',
      RECONCILE_POLL_MS: '200',
      BACKOFF_BASE_MS: '50',
      BACKOFF_MAX_MS: '500',
      FEISHU_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'silent',
      HTTP_PORT: '0',
      ...env,
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
      .overrideProvider(Clock)
      .useValue(new SkewedClock(offsetMs))
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    apps.push(app);
    return app;
  };
  const seed = async (n: number) => {
    const { newest, superseded } = newestPerSource(Array.from({ length: n }, (_, i) => event(`ou_k${i}`, 'approval', 1, counts(1 + (i % 9)))));
    await new IngestRepository(db.ds).applyBatch(newest, superseded);
  };
  const inSync = () =>
    waitFor('every user in sync', async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE status <> 'in_sync'`))[0].n === 0, 90_000, 100);
  const badgeStatuses = async (): Promise<Record<string, number>> => {
    const s = await emulatorJson(emulator, '/_emulator/stats');
    return s.statuses?.['app_badge/set'] ?? s.statuses?.appBadgeSet ?? {};
  };
  const counter = async (app: INestApplication, name: 'tokenRefreshes') =>
    ((await app.get(Metrics)[name].get()).values[0]?.value ?? 0) as number;

  it('replicas 2 s ahead of and 2 s behind the database both push their share and stay under the quota', async () => {
    // 200 ms per answer, 2 pushes in flight: 10/s each, so neither keeps up with the budget alone and both push
    // (a replica that keeps up alone would have the other stand by: SlotGrid).
    emulator = await startEmulatorProcess({ EMULATOR_RATE_LIMIT: String(RATE), EMULATOR_LATENCY_MS: '200' });
    const users = 80;
    await seed(users);
    const ahead = await replica(2_000, { RECONCILE_CONCURRENCY: '2' });
    const behind = await replica(-2_000, { RECONCILE_CONCURRENCY: '2' });
    await inSync();
    const statuses = await badgeStatuses();
    expect(statuses['429'] ?? 0).toBe(0);
    expect(statuses['200']).toBe(users);
    // A replica that compared the database's slots with its own clock gave up every slot it claimed as "passed"
    // and pushed nothing. Both push their share (loose bounds: a loaded machine's event loop misses a few slots).
    const applied = async (app: INestApplication) =>
      (await app.get(Metrics).pushes.get()).values.filter((v) => v.labels.outcome === 'applied').reduce((n, v) => n + v.value, 0);
    expect(await applied(ahead)).toBeGreaterThanOrEqual(users * 0.2);
    expect(await applied(behind)).toBeGreaterThanOrEqual(users * 0.2);

  });

  it('a token rotated while pushes are in flight: each retry takes its own slot, so the quota still holds', async () => {
    // 50 ms per answer: pushes in flight when the token goes. (The send window lets a push leave only a second after
    // the answer of the push FEISHU_RATE_LIMIT before it, so at a full budget each answer's delay past ~13 ms makes
    // the pushes later by as much per second, until they give their slots up past 500 ms late. At 400 ms, and in
    // one CI run at 150 ms, the retries, which wait for their slots, came late enough for that: none was sent.)
    emulator = await startEmulatorProcess({ EMULATOR_RATE_LIMIT: String(RATE), EMULATOR_LATENCY_MS: '50' });
    await seed(120);
    const app = await replica(0);
    const slots = jest.spyOn(app.get(ReconcileRepository), 'reserveSlot');
    await waitFor('pushes under way', async () => ((await badgeStatuses())['200'] ?? 0) >= 20, 60_000, 20);
    await emulatorJson(emulator, '/_emulator/tokens/expire', { method: 'POST', body: '{}' });
    await inSync();
    const refreshed = await counter(app, 'tokenRefreshes');
    expect(refreshed).toBeGreaterThan(0);
    // Every retry with the fresh token reserved a slot of its own in the shared budget before it was sent.
    expect(slots.mock.calls.length).toBeGreaterThanOrEqual(refreshed);
    expect((await badgeStatuses())['429'] ?? 0).toBe(0);
  });

  it('a token refused when the send window is full of unanswered pushes: the retry does not wait on its own first attempt', async () => {
    // FEISHU_RATE_LIMIT=1: the send window holds one place, the push's own first attempt, answered only once the
    // retry is done. Counted as unanswered, it would keep the retry (and every push behind it) waiting forever.
    emulator = await startEmulatorProcess({ EMULATOR_RATE_LIMIT: '1' });
    await seed(3);
    const app = await replica(0, { FEISHU_RATE_LIMIT: '1' });
    await waitFor('the first push applied', async () => ((await badgeStatuses())['200'] ?? 0) >= 1, 60_000, 20);
    await emulatorJson(emulator, '/_emulator/tokens/expire', { method: 'POST', body: '{}' });
    await inSync();
    expect(await counter(app, 'tokenRefreshes')).toBeGreaterThan(0);
    expect((await badgeStatuses())['429'] ?? 0).toBe(0);
  });
});
