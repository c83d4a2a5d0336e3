// Ingest throughput: the ingest role (eachBatch, one set-based transaction per batch) against a per-message
// baseline (what the stock Nest Kafka transport does: one message, one transaction), same events, same box.
//   npm run build && node bench/ingest.bench.mjs          (BENCH_EVENTS, BENCH_BASELINE_EVENTS to resize)
import { createTopic, deleteTopics, dist, dropDatabase, generateEvents, groupLag, id, kafka, peakRssMb, produceAll, runNode, SERVICE_MAIN, until } from './lib.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const BASELINE_EVENTS = Number(process.env.BENCH_BASELINE_EVENTS ?? 30_000);
const USERS = 20_000;
const SOURCES = 5;
const PARTITIONS = 6;

async function ingestRole() {
  const tag = id();
  const topic = `bench.ingest.${tag}`;
  const db = `bench_ingest_${tag}`;
  const group = `bench-${tag}`;
  await createTopic(topic, PARTITIONS);
  const t0 = Date.now();
  const produced = await produceAll(topic, generateEvents(EVENTS, USERS, SOURCES));
  const produceSecs = (Date.now() - t0) / 1000;
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: 'ingest', KAFKA_TOPIC: topic, KAFKA_GROUP_ID: group, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, HTTP_PORT: '0', KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), ...(process.env.INGEST_MAX_BATCH ? { INGEST_MAX_BATCH: process.env.INGEST_MAX_BATCH } : {}) });
  // Timed from the first committed offset (the service has started and joined) to the last.
  await until('first commit', async () => (await groupLag(topic, group)) < produced, 120_000, 50);
  const start = Date.now();
  const startLag = await groupLag(topic, group);
  await until('ingest drained', async () => (await groupLag(topic, group)) === 0, 1_800_000, 200);
  const secs = (Date.now() - start) / 1000;
  const rss = peakRssMb(svc.child.pid);
  await svc.stop();
  await dropDatabase(db);
  await deleteTopics(topic, `${topic}.dlq`);
  return { produced, produceSecs, applied: startLag, secs, rate: startLag / secs, rss };
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
