// Scale: what grows with the number of stored users. Two stores, BENCH_SCALE_SMALL (1,000,000) and BENCH_SCALE_LARGE
// (10,000,000) users, every one in sync with one stored source, and:
//   1. claim cost: 100 claims of 100 freshly dirty users each, alternating between the two stores (so the box's noise
//      falls on both alike); medians and the spread;
//   2. idle: CPU of the service (all roles) and of the Postgres backends over 20 s with the large store, none dirty;
//   3. ingest: the ingest role on the same 300,000 events (20,000 users, skewed) into an empty store, into the large
//      store (those 20,000 users are among its users), and events spread over all the large store's users; two rounds.
//   npm run build && node bench/scale.bench.mjs
//   (BENCH_SCALE_KEEP=1 keeps the seeded stores for the next run: seeding 10M users takes minutes)
import { loadavg } from 'node:os';
import { cpuTicks, createTopic, deleteTopics, dist, dropDatabase, EMULATOR_MAIN, generateEvents, groupLag, id, pg, postgresCpuTicks, produceAll, runNode, SERVICE_MAIN, sleep, until, freePort } from './lib.mjs';

const SMALL = Number(process.env.BENCH_SCALE_SMALL ?? 1_000_000);
const LARGE = Number(process.env.BENCH_SCALE_LARGE ?? 10_000_000);
const CLAIMS = Number(process.env.BENCH_SCALE_CLAIMS ?? 100);
const EVENTS = Number(process.env.BENCH_SCALE_EVENTS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 2);
const KEEP = process.env.BENCH_SCALE_KEEP === '1';
const APP = { FEISHU_APP_ID: 'cli_bench', FEISHU_APP_SECRET: 'bench-secret-value-123' };
const { createDataSource, ensureDatabase, migrate, ReconcileRepository } = dist('libs/store/src/index.js');
const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const started = performance.now();
const log = (msg) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(5)} s] ${msg}`);
const load = () => loadavg()[0].toFixed(1);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const url = (name) => `postgres://postgres@127.0.0.1:5432/${name}`;

/** A store of `n` users, all in sync, each with one source; reused when BENCH_SCALE_KEEP=1 left a complete one. */
async function store(n) {
  const name = `bench_scale_${n}`;
  if (!KEEP) await dropDatabase(name);
  await ensureDatabase(url(name));
  const ds = createDataSource(url(name), 4);
  await ds.initialize();
  await migrate(ds);
  const [{ seeded }] = await ds.query(`SELECT to_regclass('bench_scale_seeded') IS NOT NULL AS seeded`);
  if (!seeded) {
    const t = Date.now();
    await ds.query(`TRUNCATE badge_state, badge_source`);
    for (let lo = 0; lo < n; lo += 1_000_000) {
      const hi = Math.min(n, lo + 1_000_000);
      await ds.query(`
        INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_mobile_web_app, desired_revision,
                                 pushed_revision, status, applied_pc_web_app, applied_pc_gadget, applied_mobile_web_app,
                                 applied_mobile_gadget, applied_at, last_version, last_pushed_at)
        SELECT '', 'open_id', 'ou_bench_' || g, g % 7, g % 5, 1, 1, 'in_sync', g % 7, 0, g % 5, 0, now(), 1764000000000 + g, now()
        FROM generate_series($1::int, $2::int - 1) g`, [lo, hi]);
      await ds.query(`
        INSERT INTO badge_source (tenant_key, user_id_type, user_id, source, sequence, event_id,
                                  pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at, updated_at)
        SELECT '', 'open_id', 'ou_bench_' || g, 'src0', 0, 'seed-' || g, g % 7, 0, g % 5, 0, now(), now()
        FROM generate_series($1::int, $2::int - 1) g`, [lo, hi]);
    }
    await ds.query('VACUUM ANALYZE badge_state');
    await ds.query('VACUUM ANALYZE badge_source');
    await ds.query(`CREATE TABLE bench_scale_seeded (n int)`);
    log(`seeded ${fmt(n)} users (and one source each) in ${fmt((Date.now() - t) / 1000)} s`);
  }
  const [{ size }] = await ds.query(`SELECT pg_size_pretty(pg_total_relation_size('badge_state') + pg_total_relation_size('badge_source')) AS size`);
  log(`store of ${fmt(n)} users ready (badge_state + badge_source: ${size})`);
  return { n, name, ds, close: async () => { await ds.destroy(); if (!KEEP) await dropDatabase(name); } };
}

/** Every user back in sync and unleased (the dirty set is small: read by its partial index). */
const settle = (ds) =>
  ds.query(`UPDATE badge_state SET pushed_revision = desired_revision, status = 'in_sync', lease_owner = NULL, lease_expires_at = NULL,
                                   lease_version = NULL, lease_revision = NULL, force_full = false
            WHERE desired_revision > pushed_revision AND status <> 'parked'`);

async function claims(stores) {
  const repos = stores.map((s) => new ReconcileRepository(s.ds));
  for (const [i, s] of stores.entries()) { await settle(s.ds); await repos[i].ensureBudget(''); }
  const times = stores.map(() => []);
  for (let r = 0; r < CLAIMS; r++) {
    for (const [i, s] of stores.entries()) {
      // 100 users spread over the whole store become dirty, as ingest leaves them.
      const step = Math.floor(s.n / 100);
      await s.ds.query(`
        UPDATE badge_state SET desired_revision = desired_revision + 1, status = 'pending', next_attempt_at = now() - interval '1 s'
        WHERE (tenant_key, user_id_type, user_id) IN (SELECT '', 'open_id', 'ou_bench_' || (g * $1::int + $2::int) FROM generate_series(0, 99) g)`, [step, r]);
      const t = performance.now();
      const c = await repos[i].claim({ scope: '', tenantFilter: null, owner: 'bench', limit: 100, leaseMs: 30000, spacingMs: 0.001, horizonMs: 1000, leadMs: 0 });
      times[i].push(performance.now() - t);
      if (c.users.length !== 100) throw new Error(`claimed ${c.users.length} of 100 in the store of ${s.n}`);
      await settle(s.ds);
    }
  }
  return stores.map((s, i) => ({ n: s.n, median: median(times[i]), p10: quantile(times[i], 0.1), p90: quantile(times[i], 0.9) }));
}


async function idle(s) {
  await settle(s.ds);
  const port = await freePort();
  const emu = runNode(EMULATOR_MAIN, { EMULATOR_PORT: String(port), EMULATOR_APP_ID: APP.FEISHU_APP_ID, EMULATOR_APP_SECRET: APP.FEISHU_APP_SECRET });
  const emuUrl = `http://127.0.0.1:${port}`;
  await until('emulator', async () => (await fetch(`${emuUrl}/_emulator/health`).catch(() => null))?.ok, 30_000, 100);
  const topic = `bench.scale.idle.${id()}`;
  await createTopic(topic, 6);
  const httpPort = await freePort();
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest,reconcile,api', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `scale-${id()}`, KAFKA_TOPIC_PARTITIONS: '6', DATABASE_URL: url(s.name), FEISHU_BASE_URL: emuUrl, ...APP, HTTP_PORT: String(httpPort), AUDIT_API_TOKENS: 'bench-audit-token-0000' });
  await until('service ready', async () => (await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => null))?.ok, 120_000, 200);
  await sleep(5000); // start-up work (migrations check, group join, first gauges) is not idling; measured from here
  const [pg0, svc0, t0] = [postgresCpuTicks(), cpuTicks(svc.child.pid), Date.now()];
  await sleep(20_000); // the measurement window itself: CPU over a fixed wall time
  const secs = (Date.now() - t0) / 1000;
  const pgCpu = (postgresCpuTicks() - pg0) / 100; // USER_HZ
  const svcCpu = (cpuTicks(svc.child.pid) - svc0) / 100;
  const loadNow = load();
  await svc.stop(); await emu.stop(); await deleteTopics(topic, `${topic}.dlq`);
  return { secs, pgCpu, svcCpu, load: loadNow };
}

/** The ingest role over `events` into database `name`: events/s from its first commit to its last. */
async function ingest(name, events) {
  const tag = id();
  const topic = `bench.scale.${tag}`;
  const group = `scale-${tag}`;
  await createTopic(topic, 6);
  const produced = await produceAll(topic, events);
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group, DATABASE_URL: url(name), HTTP_PORT: '0', KAFKA_TOPIC_PARTITIONS: '6' });
  await until('first commit', async () => (await groupLag(topic, group)) < produced, 120_000, 50);
  const start = Date.now();
  const startLag = await groupLag(topic, group);
  await until('ingest drained', async () => (await groupLag(topic, group)) === 0, 1_800_000, 200);
  const secs = (Date.now() - start) / 1000;
  const loadNow = load();
  await svc.stop();
  await deleteTopics(topic, `${topic}.dlq`);
  return { rate: startLag / secs, load: loadNow };
}

/** The same events with every sequence raised by `by`: a later round's events are newer than what earlier rounds stored. */
function* newer(events, by) {
  for (const m of events) {
    const v = JSON.parse(m.value);
    v.sequence += by;
    yield { key: m.key, value: JSON.stringify(v) };
  }
}

const results = [];
const small = await store(SMALL);
const large = await store(LARGE);

log(`claims: ${CLAIMS} × 100 dirty users in each store, alternating (load ${load()})`);
const c = await claims([small, large]);
const [cs, cl] = c;
results.push(
  `claim of 100 dirty users, median of ${CLAIMS}: ${fmt(cs.n)} stored ${fmt(cs.median, 2)} ms (p10 ${fmt(cs.p10, 2)}, p90 ${fmt(cs.p90, 2)}); ` +
    `${fmt(cl.n)} stored ${fmt(cl.median, 2)} ms (p10 ${fmt(cl.p10, 2)}, p90 ${fmt(cl.p90, 2)}); ratio ${fmt(cl.median / cs.median, 2)} (load ${load()})`,
);
log(results.at(-1));
await small.close();

log('idle: all roles over the large store, none dirty');
const i = await idle(large);
results.push(
  `idle over ${fmt(LARGE)} users, none dirty, all roles, ${fmt(i.secs, 1)} s: service ${fmt(i.svcCpu, 2)} s CPU (${fmt((i.svcCpu / i.secs) * 100, 2)}% of a core), ` +
    `Postgres ${fmt(i.pgCpu, 2)} s (${fmt((i.pgCpu / i.secs) * 100, 2)}% of a core, other databases' work included) (load ${i.load})`,
);
log(results.at(-1));

log(`ingest: ${fmt(EVENTS)} events, ${ROUNDS} rounds`);
const rates = { empty: [], large: [], spread: [] };
for (let r = 0; r < ROUNDS; r++) {
  const fresh = `bench_scale_empty_${id()}`;
  await ensureDatabase(url(fresh));
  rates.empty.push(await ingest(fresh, generateEvents(EVENTS, 20_000, 5)));
  await dropDatabase(fresh);
  rates.large.push(await ingest(large.name, newer(generateEvents(EVENTS, 20_000, 5), (2 * r + 1) * EVENTS)));
  rates.spread.push(await ingest(large.name, newer(generateEvents(EVENTS, LARGE, 5), (2 * r + 2) * EVENTS)));
  await settle(large.ds);
  log(`round ${r + 1}: empty store ${fmt(rates.empty[r].rate)}/s, ${fmt(LARGE)} stored ${fmt(rates.large[r].rate)}/s, spread over ${fmt(LARGE)} ${fmt(rates.spread[r].rate)}/s`);
}
const best = (xs) => Math.max(...xs.map((x) => x.rate));
const loads = Object.values(rates).flat().map((x) => x.load).join('/');
results.push(
  `ingest role, ${fmt(EVENTS)} events, best of ${ROUNDS}: 20,000 users into an empty store ${fmt(best(rates.empty))} events/s; ` +
    `the same users among ${fmt(LARGE)} stored ${fmt(best(rates.large))} events/s (${fmt(best(rates.large) / best(rates.empty), 2)} ×); ` +
    `events spread over all ${fmt(LARGE)} users (skewed) ${fmt(best(rates.spread))} events/s (${fmt(best(rates.spread) / best(rates.empty), 2)} ×) ` +
    `[every run: ${Object.entries(rates).map(([k, v]) => `${k} ${v.map((x) => fmt(x.rate)).join(', ')}`).join('; ')}] (load ${loads})`,
);
await large.close();
console.log(`\nscale benchmarks (command: npm run build && node bench/scale.bench.mjs${KEEP ? ' with BENCH_SCALE_KEEP=1' : ''})\n  ${results.join('\n  ')}`);
process.exit(0);
