// Audit API read latency on a realistically sized store: 1,000,000 users in badge_state and 10,000,000 rows of
// badge_audit spread over the last days' partitions, the service running only the api role. 50 concurrent clients
// (closed loop) per endpoint against random users, and the same clients against GET /health/live as the baseline
// (pure HTTP and framework overhead on this machine), so the figures hold up on a noisy box as ratios. Endpoints:
// the badge, its history, and GET /v1/stats (users per status, backlog, pushes of the last hour).
//   npm run build && npm exec -- node bench/audit.bench.mjs
//   (BENCH_AUDIT_USERS, BENCH_AUDIT_ROWS, BENCH_AUDIT_DAYS, BENCH_AUDIT_CLIENTS, BENCH_AUDIT_SECONDS to resize;
//   BENCH_AUDIT_CPU_PROF=<dir> writes the service's CPU profile there)
import { readFileSync } from 'node:fs';
import { cpuTicks, dist, dropDatabase, freePort, id, pg, postgresCpuTicks, runNode, SERVICE_MAIN, until } from './lib.mjs';

const USERS = Number(process.env.BENCH_AUDIT_USERS ?? 1_000_000);
const ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 10_000_000);
const DAYS = Number(process.env.BENCH_AUDIT_DAYS ?? 3); // rows span from DAYS days ago (00:00 UTC) to now
const CLIENTS = Number(process.env.BENCH_AUDIT_CLIENTS ?? 50);
const SECONDS = Number(process.env.BENCH_AUDIT_SECONDS ?? 20);
const CHUNK = 1_000_000;
const SEEDERS = 2; // concurrent INSERT … SELECT statements while seeding the trail
const TOKEN = 'bench-audit-token-0123456789';
const TARGET_P99_MS = 20; // at one client
const TARGET_RATIO = 0.6; // req/s at CLIENTS clients against /health/live's

const store = dist('libs/store/src/index.js');
const { createDataSource, ensureDatabase, migrate, AuditPartitionsRepository, addDays, auditDay, dayStart, HISTORY_FIRST_PAGE_SQL } = store;
const PUSH_WINDOW_SECONDS = 3600;
const fmt = (n, d = 0) => Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const started = performance.now();
const log = (msg) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const userId = (n) => `ou_bench_${n}`;
const randomUser = () => userId(Math.floor(Math.random() * USERS));

// Every user: in sync, pushed a while ago (so none is dirty: the api role does not push anyway).
const SEED_STATE_SQL = `
  INSERT INTO badge_state (tenant_key, user_id_type, user_id,
                           desired_pc_web_app, desired_pc_gadget, desired_mobile_web_app, desired_mobile_gadget,
                           desired_revision, desired_changed_at, pushed_revision,
                           applied_pc_web_app, applied_pc_gadget, applied_mobile_web_app, applied_mobile_gadget, applied_at,
                           last_version, last_pushed_at, next_attempt_at, status)
  SELECT '', 'open_id', 'ou_bench_' || g, g % 7, g % 3, g % 5, g % 2,
         4, now() - (g % 250000) * interval '1 second', 4,
         g % 7, g % 3, g % 5, g % 2, now() - (g % 250000) * interval '1 second',
         1764000000000 + g, now() - (g % 250000) * interval '1 second', now(), 'in_sync'
  FROM generate_series(0, $1::int - 1) g`;

// Two sources for every fifth user.
const SEED_SOURCES_SQL = `
  INSERT INTO badge_source (tenant_key, user_id_type, user_id, source, sequence, event_id,
                            pc_web_app, pc_gadget, mobile_web_app, mobile_gadget, occurred_at, updated_at)
  SELECT '', 'open_id', 'ou_bench_' || g, s, g, 'ev-' || s || '-' || g, g % 7, g % 3, g % 5, g % 2, now(), now()
  FROM generate_series(0, $1::int - 1, 5) g, unnest(ARRAY['approval', 'task']) s`;

// Rows g in [lo, hi): time increases with g (the heap fills in time order, as in production), while the user is a
// multiplicative hash of g (2654435761 is coprime with 10^6), so each user's rows are scattered over the days and the
// heap, one per block of USERS consecutive rows. A quarter are pushes, half source changes, a quarter stale events.
const SEED_AUDIT_SQL = `
  INSERT INTO badge_audit (at, tenant_key, user_id_type, user_id, kind, source, sequence, event_id, old_counts, new_counts,
                           version, outcome, code, http_status, latency_ms, log_id, detail)
  SELECT $3::timestamptz + (g::float8 / $5::float8) * $4::float8 * interval '1 second',
         '', 'open_id', 'ou_bench_' || ((g * 2654435761) % $6::bigint),
         k.kind,
         CASE WHEN k.kind <> 'push' THEN (ARRAY['approval', 'task', 'inbox'])[1 + g % 3] END,
         CASE WHEN k.kind <> 'push' THEN g END,
         CASE WHEN k.kind <> 'push' THEN 'ev-' || g END,
         CASE WHEN k.kind = 'change' THEN jsonb_build_object('pc', jsonb_build_object('web_app', g % 5, 'gadget', 0),
                                                           'mobile', jsonb_build_object('web_app', g % 3, 'gadget', 1)) END,
         jsonb_build_object('pc', jsonb_build_object('web_app', g % 7, 'gadget', g % 2),
                            'mobile', jsonb_build_object('web_app', g % 4, 'gadget', 1)),
         CASE WHEN k.kind = 'push' THEN 1764000000000 + g END,
         CASE WHEN k.kind = 'push' THEN 'applied' END,
         CASE WHEN k.kind = 'push' THEN 0 END,
         CASE WHEN k.kind = 'push' THEN 200 END,
         CASE WHEN k.kind = 'push' THEN 5 + g % 40 END,
         CASE WHEN k.kind = 'push' THEN '20261126' || lpad(to_hex(g), 24, '0') END,
         CASE k.kind WHEN 'push' THEN 'success' WHEN 'stale' THEN 'sequence not above the stored one' END
  FROM generate_series($1::bigint, $2::bigint - 1) g,
       LATERAL (SELECT CASE g % 4 WHEN 0 THEN 'push' WHEN 3 THEN 'stale' ELSE 'change' END AS kind) k`;

/** A client whose lost connection fails the statement in hand instead of crashing the process. */
function connect(url) {
  const c = new pg.Client({ connectionString: url });
  c.on('error', (e) => log(`postgres connection lost: ${e.message}`));
  return c;
}

async function seed(ds, url) {
  const now = Date.now();
  const firstDay = addDays(auditDay(now), -DAYS);
  const from = dayStart(firstDay);
  const spanSeconds = (now - from.getTime()) / 1000 - 60;

  // Daily partitions first (the service's retention pass would make yesterday … +3 days; older days are made here).
  const partitions = new AuditPartitionsRepository(ds);
  for (let d = -DAYS; d <= 3; d++) await partitions.createPartition(addDays(auditDay(now), d));
  log(`partitions ${firstDay} … ${addDays(auditDay(now), 3)} created`);

  const client = connect(url);
  await client.connect();
  await client.query('SET synchronous_commit = off');
  let t = performance.now();
  await client.query(SEED_STATE_SQL, [USERS]);
  await client.query(SEED_SOURCES_SQL, [USERS]);
  log(`badge_state: ${fmt(USERS)} users, badge_source: ${fmt((USERS / 5) * 2)} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  t = performance.now();
  const chunks = [];
  for (let lo = 0; lo < ROWS; lo += CHUNK) chunks.push([lo, Math.min(ROWS, lo + CHUNK)]);
  let done = 0;
  const seeders = Array.from({ length: SEEDERS }, async () => {
    const c = connect(url);
    await c.connect();
    await c.query('SET synchronous_commit = off');
    try {
      for (let next = chunks.shift(); next; next = chunks.shift()) {
        await c.query(SEED_AUDIT_SQL, [next[0], next[1], from.toISOString(), spanSeconds, ROWS, USERS]);
        done += next[1] - next[0];
        const secs = (performance.now() - t) / 1000;
        log(`badge_audit: ${fmt(done)} / ${fmt(ROWS)} rows (${fmt(done / secs)} rows/s)`);
      }
    } finally {
      await c.end();
    }
  });
  await Promise.all(seeders);

  const [{ n: strays }] = (await client.query('SELECT count(*)::int AS n FROM badge_audit_default')).rows;
  if (strays !== 0) throw new Error(`${strays} audit rows landed in the default partition`);
  const perDay = (
    await client.query(`SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM badge_audit GROUP BY 1 ORDER BY 1`)
  ).rows.map((r) => `${r.p.replace('badge_audit_p', '')}: ${fmt(r.n)}`);
  log(`rows per day partition: ${perDay.join(', ')} (default partition: 0)`);

  // What autovacuum would have done by the time the table is this big: statistics, visibility map, hint bits.
  t = performance.now();
  await client.query('SET maintenance_work_mem = \'256MB\'');
  await client.query('VACUUM (ANALYZE) badge_state, badge_source, badge_audit');
  const [{ size }] = (await client.query(`SELECT pg_size_pretty(pg_database_size(current_database())) AS size`)).rows;
  log(`VACUUM ANALYZE in ${((performance.now() - t) / 1000).toFixed(1)} s; database size ${size}`);
  await client.end();
}

/** CPU seconds a process has used (user + system), from the kernel. */
const processCpu = (pid) => cpuTicks(pid) / 100; // USER_HZ = 100
/** Busy and total jiffies of the whole machine. */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** `clients` closed-loop clients for `seconds`; latency per request, from send to the last byte of the body. */
async function load(base, path, clients, seconds, servicePid) {
  const latencies = [];
  const cpu0 = processCpu(servicePid);
  const pg0 = postgresCpuTicks() / 100;
  const self0 = process.cpuUsage();
  const box0 = machineCpu();
  const statuses = new Map();
  const end = performance.now() + seconds * 1000;
  const headers = { authorization: `Bearer ${TOKEN}` };
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const r = await fetch(`${base}${path()}`, { headers });
        await r.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const box1 = machineCpu();
  const serviceCpuSeconds = processCpu(servicePid) - cpu0;
  const serviceCpu = serviceCpuSeconds / secs;
  // CPU per request of each party on the box: the service, every Postgres process, and this load generator.
  const self1 = process.cpuUsage(self0);
  const perRequestUs = {
    service: (serviceCpuSeconds / latencies.length) * 1e6,
    postgres: ((postgresCpuTicks() / 100 - pg0) / latencies.length) * 1e6,
    client: (self1.user + self1.system) / latencies.length,
  };
  const machineBusy = (box1.busy - box0.busy) / (box1.total - box0.total);
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { n: latencies.length, rps: latencies.length / secs, p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], statuses: Object.fromEntries(statuses), serviceCpu, machineBusy, perRequestUs };
}

/** When Postgres last started: a restart during the measurement (another job on the box) voids the figures. */
async function postmasterStart(url) {
  const c = connect(url);
  await c.connect();
  try {
    return (await c.query('SELECT pg_postmaster_start_time()::text AS t')).rows[0].t;
  } finally {
    await c.end();
  }
}

/** The service's own statements, EXPLAIN ANALYZEd for a few random users: median execution time and one plan. */
async function explain(url) {
  const c = connect(url);
  await c.connect();
  const out = {};
  try {
    const user = () => ['', 'open_id', randomUser()];
    // The badge in one statement where the build has it (BADGE_SQL), else its two statements.
    const statements = [
      ...(store.BADGE_SQL
        ? [['badge', store.BADGE_SQL, () => [...user(), 21]]]
        : [['badge state', store.BADGE_STATE_SQL, user], ['badge sources', store.BADGE_SOURCES_SQL, () => [...user(), 21]]]),
      ['history page', HISTORY_FIRST_PAGE_SQL, () => [...user(), 51]],
      ['stats: users by status', store.COUNT_BY_STATUS_SQL, () => []],
      ['stats: backlog', store.BACKLOG_SUMMARY_SQL, () => []],
      ['stats: pushes of the hour', store.PUSHES_SINCE_SQL, () => [PUSH_WINDOW_SECONDS]],
    ];
    for (const [name, sql, params] of statements) {
      const times = [];
      const planning = [];
      let plan = '';
      for (let i = 0; i < 21; i++) {
        const rows = (await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params())).rows.map((r) => r['QUERY PLAN']);
        times.push(Number(/Execution Time: ([\d.]+) ms/.exec(rows.join('\n'))[1]));
        planning.push(Number(/Planning Time: ([\d.]+) ms/.exec(rows.join('\n'))[1]));
        plan = rows.join('\n');
      }
      times.sort((a, b) => a - b);
      planning.sort((a, b) => a - b);
      out[name] = { median: times[10], max: times[20], planning: planning[10], plan };
    }
  } finally {
    await c.end();
  }
  return out;
}

const tag = id();
const dbName = `bench_audit_${tag}`;
const url = `postgres://postgres@127.0.0.1:5432/${dbName}`;
let svc;
try {
  log(`seeding ${dbName}: ${fmt(USERS)} users, ${fmt(ROWS)} audit rows over ${DAYS} days + today`);
  await ensureDatabase(url);
  const ds = createDataSource(url, 2, 'bench-audit-seed');
  await ds.initialize();
  await migrate(ds);
  await seed(ds, url);
  await ds.destroy();

  const port = await freePort();
  svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'api', DATABASE_URL: url, AUDIT_API_TOKENS: TOKEN, AUDIT_API_RATE_LIMIT: process.env.BENCH_AUDIT_RATE_LIMIT ?? '0', ...(process.env.BENCH_AUDIT_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_AUDIT_CPU_PROF}` } : {}), HTTP_PORT: String(port), HTTP_HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${port}`;
  await until('api ready', async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200, 60_000, 200);
  log('service (BADGE_ROLES=api) ready; warming up');
  const postgresStartedAt = await postmasterStart(url);

  const endpoints = [
    ['GET /health/live (baseline)', () => '/health/live'],
    ['GET /v1/badges/{userId}', () => `/v1/badges/${randomUser()}`],
    ['GET /v1/badges/{userId}/history', () => `/v1/badges/${randomUser()}/history`],
    ['GET /v1/stats', () => '/v1/stats'],
  ];
  const pid = svc.child.pid;
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').trim();
  for (const [, path] of endpoints) await load(base, path, CLIENTS, 2, pid);
  const results = [];
  for (const [name, path] of endpoints) {
    log(`${name}: ${CLIENTS} clients for ${SECONDS} s`);
    const r = await load(base, path, CLIENTS, SECONDS, pid);
    const single = await load(base, path, 1, 3, pid);
    results.push({ name, ...r, single });
  }
  const plans = await explain(url);
  const restarted = (await postmasterStart(url)) !== postgresStartedAt;

  const bad = results.filter((r) => Object.keys(r.statuses).some((s) => s !== '200'));
  const [baseline] = results;
  const line = (r) =>
    `  ${r.name.padEnd(34)} ${fmt(r.rps).padStart(6)} req/s  p50 ${fmt(r.p50, 1).padStart(5)} ms  p99 ${fmt(r.p99, 1).padStart(6)} ms  ` +
    `max ${fmt(r.max, 0).padStart(4)} ms  service CPU ${fmt(r.serviceCpu * 100).padStart(3)}% of a core, machine ${fmt(r.machineBusy * 100).padStart(3)}% busy  |  1 client: p50 ${fmt(r.single.p50, 2)} ms, p99 ${fmt(r.single.p99, 2)} ms` +
    (r === baseline ? '' : `  |  vs baseline: ${(r.rps / baseline.rps).toFixed(2)}× req/s, ${(r.p99 / baseline.p99).toFixed(2)}× p99`);
  console.log(`
audit API benchmark  (command: npm run build && npm exec -- node bench/audit.bench.mjs)
  store                              ${fmt(USERS)} users (badge_state), ${fmt((USERS / 5) * 2)} badge_source rows, ${fmt(ROWS)} badge_audit rows (${fmt(ROWS / USERS)} per user, ${DAYS + 1} day partitions)
  load                               ${CLIENTS} concurrent clients, closed loop, ${SECONDS} s per endpoint, random users; service BADGE_ROLES=api, DATABASE_POOL_SIZE 10
${results.map(line).join('\n')}
  target p99 ≤ ${TARGET_P99_MS} ms at 1 client: ${results.slice(1).map((r) => `${r.name} ${fmt(r.single.p99, 2)} ms ${r.single.p99 <= TARGET_P99_MS ? 'met' : 'MISSED'}`).join(', ')}
  target ≥ ${TARGET_RATIO} × the baseline's req/s at ${CLIENTS} clients: ${results.slice(1).map((r) => `${r.name} ${(r.rps / baseline.rps).toFixed(2)} × ${r.rps / baseline.rps >= TARGET_RATIO ? 'met' : 'MISSED'}`).join(', ')}
  CPU per request at ${CLIENTS} clients (µs; service + Postgres + this load generator, from /proc and process.cpuUsage; ticks of 10 ms):
${results.map((r) => { const c = r.perRequestUs; const all = c.service + c.postgres + c.client; const b = baseline.perRequestUs; return `    ${r.name.padEnd(34)} service ${fmt(c.service).padStart(4)}  postgres ${fmt(c.postgres).padStart(4)}  client ${fmt(c.client).padStart(4)}  all ${fmt(all).padStart(4)}` + (r === baseline ? '' : `  |  baseline's all ÷ this all: ${((b.service + b.postgres + b.client) / all).toFixed(2)} (the ratio if the box were CPU-bound)`); }).join('\n')}
  load average (/proc/loadavg) before the measurement: ${loadBefore}; after: ${readFileSync('/proc/loadavg', 'utf8').trim()}
  statements (EXPLAIN ANALYZE, 21 random users; execution median (max), planning median when not prepared):
    ${Object.entries(plans).map(([k, v]) => `${k} ${v.median} ms (${v.max} ms), planning ${v.planning} ms`).join('; ')}
  non-200 answers: ${bad.length === 0 ? 'none' : bad.map((r) => `${r.name} ${JSON.stringify(r.statuses)}`).join('; ')}

  history page plan (one random user):
${plans['history page'].plan.split('\n').map((l) => `    ${l}`).join('\n')}`);
  if (restarted) console.log('\n  POSTGRES RESTARTED DURING THE MEASUREMENT (something else on this machine): the figures above are void.');
  if (bad.length > 0) console.log(`\n  service output (tail):\n${svc.output().slice(-3000)}`);
  if (bad.length > 0 || restarted) process.exitCode = 1;
} finally {
  if (svc) await svc.stop();
  // Postgres may be restarting (another job on the box): retry for a while before giving up.
  const dropped = await until('database dropped', () => dropDatabase(dbName).then(() => true, () => false), 60_000, 2_000).catch(() => false);
  log(dropped ? `database ${dbName} dropped` : `could not drop ${dbName}: drop it by hand`);
}
process.exit();
