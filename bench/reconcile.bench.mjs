// Reconciler benchmarks against the emulator (its own process) and the real Postgres.
//   npm run build && node bench/reconcile.bench.mjs [engine|quota|latency|growth]
import { cpuTicks, createTopic, delayProxy, deleteTopics, dist, dropDatabase, EMULATOR_MAIN, id, kafka, Partitioners, pg, postgresCpuTicks, runNode, SERVICE_MAIN, sleep, until, freePort } from './lib.mjs';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { spawn } from 'node:child_process';

const APP = { FEISHU_APP_ID: 'cli_bench', FEISHU_APP_SECRET: 'bench-secret-value-123' };
const { createDataSource, ensureDatabase, migrate, ReconcileRepository } = dist('libs/store/src/index.js');
const only = process.argv[2];
const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function emulator(env = {}) {
  const port = await freePort();
  const p = runNode(EMULATOR_MAIN, { EMULATOR_PORT: String(port), EMULATOR_APP_ID: APP.FEISHU_APP_ID, EMULATOR_APP_SECRET: APP.FEISHU_APP_SECRET, ...env });
  const url = `http://127.0.0.1:${port}`;
  await until('emulator', async () => (await fetch(`${url}/_emulator/health`).catch(() => null))?.ok, 30_000, 100);
  return { url, child: p.child, stop: p.stop, stats: () => fetch(`${url}/_emulator/stats`).then((r) => r.json()) };
}
async function database(tag) {
  const name = `bench_rec_${tag}`;
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  await ensureDatabase(url);
  const ds = createDataSource(url, 4);
  await ds.initialize();
  await migrate(ds);
  return { name, url, ds, drop: async () => { await ds.destroy(); await dropDatabase(name); } };
}
/** n users; the first `dirty` of them dirty (never pushed), the rest in sync. */
async function seedUsers(ds, n, dirty, prefix = 'ou_b') {
  await ds.query(`
    INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_mobile_web_app, desired_revision,
                             pushed_revision, status, applied_pc_web_app, applied_pc_gadget, applied_mobile_web_app, applied_mobile_gadget, last_pushed_at)
    SELECT '', 'open_id', $3 || g, g % 7, g % 5, 1,
           CASE WHEN g <= $2 THEN 0 ELSE 1 END, CASE WHEN g <= $2 THEN 'pending' ELSE 'in_sync' END,
           CASE WHEN g <= $2 THEN NULL ELSE g % 7 END, 0, CASE WHEN g <= $2 THEN NULL ELSE g % 5 END, 0,
           CASE WHEN g <= $2 THEN NULL ELSE now() END
    FROM generate_series(1, $1) g`, [n, dirty, prefix]);
  await ds.query('ANALYZE badge_state');
}
const waitInSync = (ds, ms = 900_000) =>
  until('all in sync', async () => (await ds.query(`SELECT count(*)::int n FROM badge_state WHERE desired_revision > pushed_revision`))[0].n === 0, ms, 50);
function service(db, emu, env) {
  return runNode(SERVICE_MAIN, { BADGE_ROLES: 'reconcile', DATABASE_URL: db.url, FEISHU_BASE_URL: emu.url, ...APP, HTTP_PORT: '0', AUDIT_API_TOKENS: 'bench-audit-token-0000', ...env });
}
const results = [];

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** POSTs `count` app_badge/set requests with `concurrency` clients over one keep-alive agent (node:http, no fetch). */
async function drive(url, token, count, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(`${url}/open-apis/application/v6/app_badge/set`);
  const post = (body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      req.end(body);
    });
  let sent = 0;
  const per = Math.ceil(count / concurrency);
  await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
    for (let i = 0; i < per; i++, sent++) {
      await post(JSON.stringify({ user_id: `raw_${c}_${i}`, version: String(1_700_000_000_000 + i), pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 1, gadget: 0 } }));
    }
  }));
  agent.destroy();
  return sent;
}

async function engine() {
  const N = Number(process.env.BENCH_ENGINE_USERS ?? 20_000);
  // The service's push concurrency (RECONCILE_CONCURRENCY, default 128): the ceiling is measured at the same one.
  const C = Number(process.env.RECONCILE_CONCURRENCY ?? 128);
  const emu = await emulator({ EMULATOR_RATE_LIMIT: '0' });
  // Baseline: the emulator's own ceiling, C concurrent keep-alive clients posting app_badge/set directly, no database.
  const token = (await (await fetch(`${emu.url}/open-apis/auth/v3/tenant_access_token/internal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app_id: APP.FEISHU_APP_ID, app_secret: APP.FEISHU_APP_SECRET }) })).json()).tenant_access_token;
  await drive(emu.url, token, Math.min(2000, N), C); // warm-up (JIT, sockets)
  const emuTicks0 = cpuTicks(emu.child.pid);
  const t0 = Date.now();
  const sent = await drive(emu.url, token, N, C);
  const rawSecs = (Date.now() - t0) / 1000;
  const raw = sent / rawSecs;
  const emuCpuPerReq = (cpuTicks(emu.child.pid) - emuTicks0) / 100 / sent;
  const db = await database(id());
  await seedUsers(db.ds, N, N);
  // BENCH_DB_RTT_MS: the service reaches Postgres through a proxy that adds this round trip (a database across a
  // network, as a managed one is), to see what each statement's round trip costs the engine.
  const rttMs = Number(process.env.BENCH_DB_RTT_MS ?? 0);
  const proxy = rttMs > 0 ? await delayProxy(5432, rttMs / 2) : null;
  const svcDb = proxy ? { ...db, url: db.url.replace(':5432/', `:${proxy.port}/`) } : db;
  const selectOneMs = async (url) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const ts = [];
    for (let i = 0; i < 21; i++) { const t = performance.now(); await c.query('SELECT 1'); ts.push(performance.now() - t); }
    await c.end();
    return ts.sort((a, b) => a - b)[10];
  };
  const dbRtt = proxy ? `, database round trip (median SELECT 1) ${fmt(await selectOneMs(svcDb.url), 2)} ms against ${fmt(await selectOneMs(db.url), 2)} ms direct` : '';
  const svc = service(svcDb, emu, { FEISHU_RATE_LIMIT: '100000', RECONCILE_CONCURRENCY: String(C), ...(process.env.RECONCILE_BATCH_SIZE ? { RECONCILE_BATCH_SIZE: process.env.RECONCILE_BATCH_SIZE } : {}), ...(process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` } : {}) });
  const pushed = async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE pushed_revision = 1`))[0].n;
  await until('first push', async () => (await pushed()) > 0, 60_000, 20);
  const t1 = Date.now();
  const svcTicks0 = cpuTicks(svc.child.pid);
  const pgTicks0 = postgresCpuTicks();
  const first = await pushed();
  // Sampled every 200 ms: the CPU figures stop at the sample that saw every user in sync.
  let done = first;
  let t2 = t1;
  let svcTicks1 = svcTicks0;
  let pgTicks1 = pgTicks0;
  const load = [];
  await until('all in sync', async () => {
    const n = (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE desired_revision > pushed_revision`))[0].n;
    svcTicks1 = cpuTicks(svc.child.pid);
    pgTicks1 = postgresCpuTicks();
    t2 = Date.now();
    done = N - n;
    load.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
    return n === 0;
  }, 900_000, 200);
  const pushes = done - first;
  const rate = pushes / ((t2 - t1) / 1000);
  const svcCpu = (svcTicks1 - svcTicks0) / 100;
  const pgCpu = (pgTicks1 - pgTicks0) / 100;
  await svc.stop(); await emu.stop(); await db.drop(); await proxy?.close();
  results.push(
    `push engine, emulator limit off, concurrency ${C}${dbRtt}: ${fmt(N)} dirty users pushed at ${fmt(rate)} pushes/s (from the first push on); ` +
      `the emulator alone with ${C} keep-alive clients: ${fmt(raw)} req/s (emulator CPU ${fmt(emuCpuPerReq * 1e6)} µs/req); ratio ${fmt(rate / raw, 2)}; ` +
      `CPU per push: service ${fmt((svcCpu / pushes) * 1e6)} µs + postgres ${fmt((pgCpu / pushes) * 1e6)} µs = ${fmt(((svcCpu + pgCpu) / pushes) * 1e6)} µs ` +
      `(${fmt(svcCpu, 2)} s + ${fmt(pgCpu, 2)} s over ${fmt(pushes)} pushes); load average 1-min during the run max ${fmt(Math.max(...load), 2)}, at the end ${loadavg()}`,
  );
}

/** BENCH_BUSY=n: n busy-looping node processes keep the machine loaded (load ≥ 3 on two cores with n = 4). */
function busy(n) {
  const kids = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return () => kids.forEach((k) => k.kill('SIGKILL'));
}

async function quota() {
  const N = Number(process.env.BENCH_QUOTA_USERS ?? 5000);
  const Q = 50;
  const stopBusy = busy(Number(process.env.BENCH_BUSY ?? 0));
  const emu = await emulator({ EMULATOR_RATE_LIMIT: String(Q) });
  const db = await database(id());
  await seedUsers(db.ds, N, N);
  // BENCH_QUOTA_REPLICAS: that many service processes share the budget (the shared grid's spacing).
  const replicas = Number(process.env.BENCH_QUOTA_REPLICAS ?? 1);
  const svcs = Array.from({ length: replicas }, () => service(db, emu, { FEISHU_RATE_LIMIT: String(Q) }));
  // Rate measured between the first and the last push the emulator accepted (service start-up excluded).
  await until('first push', async () => (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE pushed_revision = 1`))[0].n > 0, 60_000, 20);
  const t1 = Date.now();
  const first = (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE pushed_revision = 1`))[0].n;
  const load = [];
  const sampler = setInterval(() => load.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0])), 1000);
  await waitInSync(db.ds);
  clearInterval(sampler);
  const rate = (N - first) / ((Date.now() - t1) / 1000);
  const s = await emu.stats();
  const limited = s.statuses?.['app_badge/set']?.['429'] ?? 0;
  const peak = Object.values(s.rateLimit?.maxAcceptedPerWindow?.['app_badge/set'] ?? {})[0];
  stopBusy();
  await Promise.all(svcs.map((svc) => svc.stop())); await emu.stop(); await db.drop();
  const sorted = [...load].sort((a, b) => a - b);
  results.push(
    `quota Q=${Q}/s, backlog ${fmt(N)}, BENCH_BUSY=${process.env.BENCH_BUSY ?? 0}, replicas ${replicas}: achieved ${fmt(rate, 2)} pushes/s = ${fmt(rate / Q, 3)} × Q; 429 answers: ${limited}` +
      `${peak === undefined ? '' : `; most accepted in one window: ${peak}`}; 1-min load average during the run min ${fmt(sorted[0] ?? 0, 2)} median ${fmt(sorted[Math.floor(sorted.length / 2)] ?? 0, 2)} max ${fmt(sorted.at(-1) ?? 0, 2)}`,
  );
}

async function latency() {
  const Q = 50;
  const EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 400);
  const emu = await emulator({ EMULATOR_RATE_LIMIT: String(Q) });
  const db = await database(id());
  const topic = `bench.lat.${id()}`;
  await createTopic(topic, 3);
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest,reconcile', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `lat-${id()}`, DATABASE_URL: db.url, FEISHU_BASE_URL: emu.url, ...APP, FEISHU_RATE_LIMIT: String(Q), HTTP_PORT: '0' });
  await until('ingest ready', async () => (await db.ds.query(`SELECT count(*)::int n FROM schema_migrations`).catch(() => [{ n: 0 }]))[0].n > 0, 60_000);
  await sleep(3000); // the consumer joins its group; latency is measured from here on, not start-up
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const sentAt = new Map();
  for (let i = 0; i < EVENTS; i++) {
    const userId = `ou_lat_${i}`;
    const at = Date.now();
    sentAt.set(userId, at);
    await producer.send({ topic, messages: [{ key: userId, value: JSON.stringify({ eventId: `l${i}`, userId, source: 'inbox', sequence: 1, counts: { pc: { web_app: 1 } }, occurredAt: new Date(at).toISOString() }) }] });
    await sleep(Math.max(0, at + 50 - Date.now())); // 20 events/s
  }
  await producer.disconnect();
  await waitInSync(db.ds, 120_000);
  const lat = [];
  for (const [userId, at] of sentAt) {
    const b = await (await fetch(`${emu.url}/_emulator/badges/${userId}/history`)).json().catch(() => null);
    const accepted = (b?.history ?? []).find((h) => h.code === 0);
    const time = accepted ? Date.parse(accepted.at ?? accepted.time) : NaN;
    if (!Number.isNaN(time)) lat.push(time - at);
  }
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  await svc.stop(); await emu.stop(); await db.drop(); await deleteTopics(topic, `${topic}.dlq`);
  results.push(`latency at 20 events/s, Q=${Q}/s: produced → accepted by the emulator, ${lat.length} events: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${lat.at(-1)} ms`);
}

async function coalescing() {
  const Q = 50;
  const USERS = 2000;
  const EVENTS = Number(process.env.BENCH_COALESCE_EVENTS ?? 200_000);
  const SECONDS = 20;
  const emu = await emulator({ EMULATOR_RATE_LIMIT: String(Q) });
  const db = await database(id());
  const topic = `bench.coal.${id()}`;
  await createTopic(topic, 6);
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest,reconcile', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `coal-${id()}`, DATABASE_URL: db.url, FEISHU_BASE_URL: emu.url, ...APP, FEISHU_RATE_LIMIT: String(Q), HTTP_PORT: '0' });
  await until('ingest ready', async () => (await db.ds.query(`SELECT count(*)::int n FROM schema_migrations`).catch(() => [{ n: 0 }]))[0].n > 0, 60_000);
  await sleep(3000);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const seq = new Map();
  const perTick = EVENTS / (SECONDS * 10);
  const start = Date.now();
  for (let tick = 0; tick < SECONDS * 10; tick++) {
    const messages = [];
    for (let i = 0; i < perTick; i++) {
      const u = Math.floor(Math.random() * USERS);
      const src = Math.floor(Math.random() * 3);
      const k = u * 3 + src;
      const q = (seq.get(k) ?? 0) + 1;
      seq.set(k, q);
      const n = Math.floor(Math.random() * 30);
      messages.push({ key: `ou_c${u}`, value: JSON.stringify({ eventId: `c${tick}-${i}`, userId: `ou_c${u}`, source: `s${src}`, sequence: q, counts: { pc: { web_app: n }, mobile: { gadget: n } }, occurredAt: new Date().toISOString() }) });
    }
    await producer.send({ topic, messages });
    await sleep(Math.max(0, start + (tick + 1) * 100 - Date.now()));
  }
  const streamEnd = Date.now();
  await producer.disconnect();
  await until('ingest drained', async () => (await db.ds.query(`SELECT coalesce(sum(1),0)::int n FROM badge_source`))[0].n >= 0, 1000);
  const dirtyAtEnd = (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE desired_revision > pushed_revision`))[0].n;
  await waitInSync(db.ds, 600_000);
  const converge = (Date.now() - streamEnd) / 1000;
  const floor = dirtyAtEnd / Q;
  const s = await emu.stats();
  const pushes = s.codes?.['app_badge/set']?.['0'] ?? 0;
  const limited = s.statuses?.['app_badge/set']?.['429'] ?? 0;
  const changed = (await db.ds.query(`SELECT count(*)::int n FROM badge_state`))[0].n;
  await svc.stop(); await emu.stop(); await db.drop(); await deleteTopics(topic, `${topic}.dlq`);
  results.push(`coalescing: ${fmt(EVENTS)} events over ${USERS} users in ${SECONDS} s, Q=${Q}/s: ${fmt(pushes)} pushes (${fmt(pushes / changed, 2)} per changed user), 429s: ${limited}; ${dirtyAtEnd} users dirty when the stream ended, converged ${fmt(converge, 1)} s later vs a floor of ${fmt(floor, 1)} s = ${fmt(converge / floor, 2)} × floor`);
}


async function growth() {
  const out = [];
  for (const stored of [10_000, 1_000_000]) {
    const db = await database(id());
    await seedUsers(db.ds, stored, 0);
    const repo = new ReconcileRepository(db.ds);
    await repo.ensureBudget('');
    const times = [];
    for (let r = 0; r < 20; r++) {
      await db.ds.query(`UPDATE badge_state SET desired_revision = desired_revision + 1, status = 'pending', next_attempt_at = now() - interval '1 s', lease_owner = NULL WHERE user_id IN (SELECT 'ou_b' || g FROM generate_series(${r * 100 + 1}, ${r * 100 + 100}) g)`);
      const t = performance.now();
      const c = await repo.claim({ scope: '', tenantFilter: null, owner: 'bench', limit: 100, leaseMs: 30000, spacingMs: 0.001, horizonMs: 1000, leadMs: 0 });
      times.push(performance.now() - t);
      if (c.users.length !== 100) throw new Error(`claimed ${c.users.length}`);
    }
    times.sort((a, b) => a - b);
    let idle = '';
    if (stored === 1_000_000) {
      const emu = await emulator({});
      await db.ds.query(`UPDATE badge_state SET pushed_revision = desired_revision, status = 'in_sync', lease_owner = NULL`);
      const svc = service(db, emu, {});
      await sleep(5000);
      const before = postgresCpuTicks();
      await sleep(10_000);
      const cpu = (postgresCpuTicks() - before) / 100; // USER_HZ
      idle = `; Postgres CPU while the reconcile role idles 10 s over ${fmt(stored)} users, none dirty: ${fmt(cpu, 2)} s (${fmt((cpu / 10) * 100, 1)}% of one core)`;
      await svc.stop(); await emu.stop();
    }
    out.push(`${fmt(stored)} users stored: claim of 100 dirty median ${fmt(times[10], 1)} ms, p90 ${fmt(times[18], 1)} ms${idle}`);
    await db.drop();
  }
  results.push(`growth: ${out.join(' | ')}`);
}

/**
 * Priority lanes: live changes (one user every 200 ms, written as ingest writes them) pushed while a bulk backlog of
 * BENCH_LANES_BULK users is pending under Q = 50/s, against the same live pattern on an idle system first.
 * Latency is the database's own: desired change stored → Feishu accepted (applied_at - desired_changed_at).
 */
async function lanes() {
  const Q = 50;
  const BULK = Number(process.env.BENCH_LANES_BULK ?? 100_000);
  const LIVE = Number(process.env.BENCH_LANES_LIVE ?? 150);
  const { IngestRepository } = dist('libs/store/src/index.js');
  const emu = await emulator({ EMULATOR_RATE_LIMIT: String(Q) });
  const db = await database(id());
  const ingest = new IngestRepository(db.ds);
  const change = (userId) => ingest.applyBatch([{ eventId: `e-${userId}`, userId, userIdType: 'open_id', tenantKey: '', source: 'inbox', sequence: 1, counts: { pc: { web_app: 1, gadget: 0 }, mobile: { web_app: 1, gadget: 0 } }, occurredAt: new Date() }], []);
  const applied = (prefix) => db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE user_id LIKE $1 AND applied_at IS NOT NULL AND desired_revision = pushed_revision`, [`${prefix}%`]).then((r) => r[0].n);
  const svc = service(db, emu, { FEISHU_RATE_LIMIT: String(Q) });
  await change('ou_probe');
  await until('service pushing', async () => (await applied('ou_probe')) === 1, 60_000, 50);
  const round = async (prefix) => {
    for (let i = 0; i < LIVE; i++) {
      const at = Date.now();
      await change(`${prefix}${i}`);
      await sleep(Math.max(0, at + 200 - Date.now()));
    }
    await until(`${prefix} applied`, async () => (await applied(prefix)) === LIVE, 120_000, 50);
    const ms = (await db.ds.query(`SELECT (extract(epoch FROM applied_at - desired_changed_at) * 1000)::float8 AS ms FROM badge_state WHERE user_id LIKE $1`, [`${prefix}%`])).map((r) => r.ms).sort((a, b) => a - b);
    const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
    return { p50: q(0.5), p99: q(0.99), max: ms.at(-1) };
  };
  const idle = await round('ou_idle_');
  // The bulk backlog (as a snapshot or the switch from shadow to live leaves it): dirty, never pushed, bulk lane.
  await db.ds.query(`
    INSERT INTO badge_state (tenant_key, user_id_type, user_id, desired_pc_web_app, desired_revision, pushed_revision, status, lane)
    SELECT '', 'open_id', 'ou_bulk' || g, 1 + g % 7, 1, 0, 'pending', 1 FROM generate_series(1, $1) g`, [BULK]);
  await db.ds.query('ANALYZE badge_state');
  const pushes = () => db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'push' AND outcome = 'applied'`).then((r) => r[0].n);
  const p0 = await pushes();
  const t0 = Date.now();
  const loaded = await round('ou_live_');
  const rate = ((await pushes()) - p0) / ((Date.now() - t0) / 1000);
  const left = (await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE user_id LIKE 'ou_bulk%' AND desired_revision > pushed_revision`))[0].n;
  const s = await emu.stats();
  const limited = s.statuses?.['app_badge/set']?.['429'] ?? 0;
  await svc.stop(); await emu.stop(); await db.drop();
  results.push(
    `lanes, Q=${Q}/s: live change → applied, ${LIVE} users at 5/s, idle p50 ${fmt(idle.p50)} ms p99 ${fmt(idle.p99)} ms max ${fmt(idle.max)} ms; ` +
      `with ${fmt(BULK)} bulk users pending p50 ${fmt(loaded.p50)} ms p99 ${fmt(loaded.p99)} ms max ${fmt(loaded.max)} ms (p99 ratio ${fmt(loaded.p99 / idle.p99, 2)}; target ≤ 2); ` +
      `all pushes meanwhile ${fmt(rate, 2)}/s = ${fmt(rate / Q, 3)} × Q (target ≥ 0.95), ${fmt(left)} bulk still pending; 429 answers: ${limited}`,
  );
}

const all = { engine, quota, coalescing, latency, growth, lanes };
for (const [name, fn] of Object.entries(all)) if (!only || only === name) await fn();
console.log(`\nreconcile benchmarks (command: npm run build && node bench/reconcile.bench.mjs${only ? ` ${only}` : ''})\n  ${results.join('\n  ')}`);
process.exit(0);
