// Ingest throughput: the ingest role (eachBatch, one set-based transaction per batch) against a per-message
// baseline (what the stock Nest Kafka transport does: one message, one transaction), same events, same box.
//   npm run build && node bench/ingest.bench.mjs          (BENCH_EVENTS, BENCH_BASELINE_EVENTS to resize)
// Ceiling mode: the ingest role against the repository statement alone, same events, same run:
//   npm run build && node bench/ingest.bench.mjs ceiling  (BENCH_EVENTS, INGEST_MAX_BATCH; `role` runs the role alone)
// Memory diagnostics for the service: BENCH_NODE_ARGS="--trace-gc -r bench/memlog.cjs" (node flags before its main),
// BENCH_SERVICE_LOG=<file> (its output, the last BENCH_OUTPUT_CHARS characters, written there when it stops).
import { createTopic, deleteTopics, dist, dropDatabase, generateEvents, groupLag, id, kafka, peakRssMb, produceAll, require, runNode, SERVICE_MAIN, sleep, until } from './lib.mjs';
import { readFileSync } from 'node:fs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const BASELINE_EVENTS = Number(process.env.BENCH_BASELINE_EVENTS ?? 30_000);
const USERS = 20_000;
const SOURCES = 5;
const PARTITIONS = 6;

const MAX_BATCH = Number(process.env.INGEST_MAX_BATCH ?? 5000);
/** The role's concurrency: partitionsConsumedConcurrently in KafkaBatchTransport. */
const CONCURRENCY = Math.min(3, PARTITIONS);

/** The 1-minute load average, sampled every second while a phase runs: at its start, its end and its highest. */
function loadSampler() {
  const read = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const first = read();
  let max = first;
  let last = first;
  const timer = setInterval(() => { last = read(); max = Math.max(max, last); }, 1000);
  return { stop: () => { clearInterval(timer); last = read(); return { start: first, end: last, max: Math.max(max, last) }; } };
}
const fmtLoad = (l) => `load ${l.start.toFixed(2)} → ${l.end.toFixed(2)} (max ${l.max.toFixed(2)})`;

/** Service memory, sampled while it ingests: VmRSS (MB) now and then, to see whether it grows or plateaus. */
function rssSampler(pid) {
  const samples = [];
  const timer = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) samples.push(Math.round(Number(m[1]) / 1024));
    } catch { /* exited */ }
  }, 1000);
  return { stop: () => { clearInterval(timer); return samples; } };
}

async function ingestRole(events) {
  const tag = id();
  const topic = `bench.ingest.${tag}`;
  const db = `bench_ingest_${tag}`;
  const group = `bench-${tag}`;
  await createTopic(topic, PARTITIONS);
  const t0 = Date.now();
  const produced = await produceAll(topic, events ?? generateEvents(EVENTS, USERS, SOURCES));
  const produceSecs = (Date.now() - t0) / 1000;
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, HTTP_PORT: '0', KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), ...(process.env.INGEST_MAX_BATCH ? { INGEST_MAX_BATCH: process.env.INGEST_MAX_BATCH } : {}) });
  const rssSamples = rssSampler(svc.child.pid);
  // Timed from the first committed offset (the service has started and joined) to the last.
  await until('first commit', async () => (await groupLag(topic, group)) < produced, 120_000, 50);
  const load = loadSampler();
  const start = Date.now();
  const startLag = await groupLag(topic, group);
  await until('ingest drained', async () => (await groupLag(topic, group)) === 0, 1_800_000, 200);
  const secs = (Date.now() - start) / 1000;
  const loadAvg = load.stop();
  const rss = peakRssMb(svc.child.pid);
  const rssTrace = rssSamples.stop();
  await svc.stop();
  if (process.env.BENCH_SERVICE_LOG) (await import('node:fs')).writeFileSync(process.env.BENCH_SERVICE_LOG, svc.output());
  await dropDatabase(db);
  await deleteTopics(topic, `${topic}.dlq`);
  return { produced, produceSecs, applied: startLag, secs, rate: startLag / secs, rss, rssTrace, load: loadAvg };
}

/**
 * The ceiling: the same events, each partition's in its order (partitioned as the producer does), decoded with
 * decodeEvent and applied in chunks of INGEST_MAX_BATCH of one partition through IngestRepository.applyBatch,
 * CONCURRENCY chunks at a time (each partition one chunk at a time, as the role), no Kafka, no Nest.
 */
async function ceiling(events) {
  const { IngestRepository, createDataSource, ensureDatabase, migrate } = dist('libs/store/src/index.js');
  const { decodeEvent, newestPerSource } = dist('libs/contracts/src/index.js');
  const db = `bench_ceil_${id()}`;
  const url = `postgres://postgres@127.0.0.1:5432/${db}`;
  await ensureDatabase(url);
  const ds = createDataSource(url, 10);
  await ds.initialize();
  await migrate(ds);
  const repo = new IngestRepository(ds);
  // What Kafka hands the role: Buffers, per partition, in produced order.
  const parts = Array.from({ length: PARTITIONS }, () => []);
  for (const e of events) parts[e.partition].push(Buffer.from(e.value));
  const next = parts.map(() => 0);
  const busy = parts.map(() => false);
  /** The free partition with the most left, and its next chunk. */
  const take = () => {
    let best = -1;
    for (let p = 0; p < PARTITIONS; p++) if (!busy[p] && next[p] < parts[p].length && (best < 0 || parts[p].length - next[p] > parts[best].length - next[best])) best = p;
    if (best < 0) return null;
    busy[best] = true;
    const chunk = parts[best].slice(next[best], next[best] + MAX_BATCH);
    next[best] += chunk.length;
    return { p: best, chunk };
  };
  let applied = 0;
  const load = loadSampler();
  const start = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const job = take();
      if (!job) {
        if (next.every((n, p) => n >= parts[p].length)) return;
        await sleep(1); // every partition with work left is in another worker's hands
        continue;
      }
      const decoded = [];
      for (const v of job.chunk) {
        const r = decodeEvent(v, { appType: 'custom' });
        if (r.ok) decoded.push(r.event);
      }
      const { newest, superseded } = newestPerSource(decoded);
      await repo.applyBatch(newest, superseded, []);
      applied += job.chunk.length;
      busy[job.p] = false;
    }
  }));
  const secs = (Date.now() - start) / 1000;
  const loadAvg = load.stop();
  await ds.destroy();
  await dropDatabase(db);
  return { applied, secs, rate: applied / secs, load: loadAvg };
}

/** The events once, with the partition the producer's default partitioner gives their key, so both phases get the same. */
function materialize() {
  const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2');
  const out = [];
  for (const e of generateEvents(EVENTS, USERS, SOURCES)) out.push({ ...e, partition: (murmur2(e.key) & 0x7fffffff) % PARTITIONS });
  return out;
}

if (process.argv[2] === 'ceiling' || process.argv[2] === 'role') {
  const events = materialize();
  const c = process.argv[2] === 'role' ? { applied: 0, secs: 1, rate: NaN, load: { start: 0, end: 0, max: 0 } } : await ceiling(events);
  const r = await ingestRole(events);
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const rssTrace = r.rssTrace.length > 12 ? r.rssTrace.filter((_, i) => i % Math.ceil(r.rssTrace.length / 12) === 0) : r.rssTrace;
  console.log(`
ingest ceiling benchmark  (command: npm run build && node bench/ingest.bench.mjs ceiling)
  events                   ${fmt(events.length)}  (${USERS} users × ${SOURCES} sources, skewed keys, ${PARTITIONS} partitions, chunks of ${MAX_BATCH}, ${CONCURRENCY} at a time)
  ceiling (applyBatch)     ${fmt(c.applied)} events in ${c.secs.toFixed(1)} s = ${fmt(c.rate)} events/s   ${fmtLoad(c.load)}
  ingest role              ${fmt(r.applied)} events in ${r.secs.toFixed(1)} s = ${fmt(r.rate)} events/s   ${fmtLoad(r.load)}   (produced in ${r.produceSecs.toFixed(1)} s)
  role / ceiling           ${(r.rate / c.rate).toFixed(2)}
  role peak RSS            ${r.rss} MB (VmHWM); VmRSS every ~${Math.ceil(r.rssTrace.length / 12)} s: ${rssTrace.join(' ')}`);
  process.exit(0);
}

async function perMessageBaseline() {
  const { IngestRepository, createDataSource, ensureDatabase, migrate } = dist('libs/store/src/index.js');
  const { decodeEvent } = dist('libs/contracts/src/index.js');
  const tag = id();
  const topic = `bench.baseline.${tag}`;
  const db = `bench_base_${tag}`;
  const url = `postgres://postgres@127.0.0.1:5432/${db}`;
  await createTopic(topic, PARTITIONS);
  const produced = await produceAll(topic, generateEvents(BASELINE_EVENTS, USERS, SOURCES));
  await ensureDatabase(url);
  const ds = createDataSource(url, 4);
  await ds.initialize();
  await migrate(ds);
  const repo = new IngestRepository(ds);
  const consumer = kafka.consumer({ groupId: `bench-base-${tag}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done = 0;
  let start = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (start === 0) start = Date.now();
      const r = decodeEvent(message.value, { appType: 'custom' });
      if (r.ok) await repo.applyBatch([r.event], []);
      done++;
    },
  });
  await until('baseline drained', async () => done >= produced, 1_800_000, 100);
  const secs = (Date.now() - start) / 1000;
  await consumer.disconnect();
  await ds.destroy();
  await dropDatabase(db);
  await deleteTopics(topic, `${topic}.dlq`);
  return { applied: done, secs, rate: done / secs };
}

/** `npm run snapshot` on a file of the same events (one per line), into a fresh database: lines per second. */
async function snapshotLoad() {
  const { mkdtempSync, createWriteStream, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = (await import('node:path')).default;
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-snapshot-'));
  const file = path.join(dir, 'events.ndjson');
  const out = createWriteStream(file);
  for (const e of generateEvents(EVENTS, USERS, SOURCES)) if (!out.write(`${e.value}\n`)) await new Promise((r) => out.once('drain', r));
  await new Promise((r) => out.end(r));
  const db = `bench_snap_${id()}`;
  const started = Date.now();
  const main = path.join(path.dirname(SERVICE_MAIN), 'snapshot.js');
  const child = spawn(process.execPath, [main, '--file', file], { env: { PATH: process.env.PATH, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise((r) => child.once('exit', r));
  const secs = (Date.now() - started) / 1000;
  rmSync(dir, { recursive: true, force: true });
  await dropDatabase(db);
  if (code !== 0) throw new Error(`snapshot exited ${code}: ${stdout}`);
  return { lines: EVENTS, secs, rate: EVENTS / secs, summary: stdout.trim() };
}

const a = await ingestRole();
const b = await perMessageBaseline();
const c = process.env.BENCH_SNAPSHOT === '0' ? null : await snapshotLoad();
const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(`
ingest benchmark  (command: npm run build && node bench/ingest.bench.mjs)
  events produced          ${fmt(a.produced)}  (${USERS} users × ${SOURCES} sources, skewed keys, ${PARTITIONS} partitions; produced in ${a.produceSecs.toFixed(1)} s)
  ingest role (eachBatch)  ${fmt(a.applied)} events in ${a.secs.toFixed(1)} s = ${fmt(a.rate)} events/s   peak RSS ${a.rss} MB
  per-message baseline     ${fmt(b.applied)} events in ${b.secs.toFixed(1)} s = ${fmt(b.rate)} events/s
  ratio                    ${(a.rate / b.rate).toFixed(1)} ×${c === null ? '' : `
  snapshot loader          ${fmt(c.lines)} lines in ${c.secs.toFixed(1)} s = ${fmt(c.rate)} lines/s (process start and migrations included) = ${(c.rate / a.rate).toFixed(2)} × the ingest role
                           ${c.summary}`}`);
process.exit(0);
