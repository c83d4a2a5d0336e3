// Shared helpers for the benchmarks: the project's own kafkajs/pg, built code from dist/, child processes.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const require = createRequire(path.join(root, 'package.json'));
export const { Kafka, logLevel, Partitioners } = require('kafkajs');
export const pg = require('pg');
export const dist = (p) => require(path.join(root, 'dist/apps/badge-service', p));
export const SERVICE_MAIN = path.join(root, 'dist/apps/badge-service/apps/badge-service/src/main.js');
export const EMULATOR_MAIN = path.join(root, 'dist/apps/feishu-emulator/apps/feishu-emulator/src/main.js');
export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const id = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

/**
 * A TCP port free on 127.0.0.1 right now (the kernel's pick), for a child process to listen on. A random port in
 * 30000–50000 sometimes collided with one in use (e.g. an outgoing connection's), and the child never got ready.
 */
export async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

export async function until(what, fn, ms = 600_000, every = 200) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(every);
  }
}

export async function dropDatabase(name) {
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
}

/** The node flags the service runs with, as deployed: `npm run start:service`'s (the Dockerfile's CMD has the same). */
export const SERVICE_NODE_ARGS = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  .scripts['start:service'].split(/\s+/).filter((a) => a.startsWith('--'));

export function runNode(main, env) {
  const flags = [...(main === SERVICE_MAIN ? SERVICE_NODE_ARGS : []), ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...flags, main], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out = (out + d).slice(-(Number(process.env.BENCH_OUTPUT_CHARS) || 20000))));
  child.stderr.on('data', (d) => (out = (out + d).slice(-(Number(process.env.BENCH_OUTPUT_CHARS) || 20000))));
  const exited = new Promise((r) => child.once('exit', r));
  return { child, output: () => out, exited, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

/** utime+stime of one process (every thread), in clock ticks (USER_HZ = 100); 0 once it is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** utime+stime of every Postgres process on the machine (backends of every database), in clock ticks. */
export function postgresCpuTicks() {
  let ticks = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (/\((postgres|postmaster)\)/.test(readFileSync(`/proc/${p}/stat`, 'utf8'))) ticks += cpuTicks(p);
    } catch {}
  }
  return ticks;
}

/** Peak resident set of a live process, from the kernel (VmHWM). */
export function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

export async function groupLag(topic, groupId) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const done = new Map(committed[0].partitions.map((p) => [p.partition, Number(p.offset)]));
    return ends.reduce((n, p) => n + Number(p.high) - Math.max(Number(p.low), done.get(p.partition) ?? -1), 0);
  } finally {
    await admin.disconnect();
  }
}

export async function createTopic(topic, numPartitions) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions }, { topic: `${topic}.dlq`, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
}
export async function deleteTopics(...topics) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}

/**
 * Events for `users` users × `sources` sources with a skewed key distribution (a few users are much busier,
 * as inboxes are): user rank r is chosen with weight 1/(r+10).
 */
export function* generateEvents(count, users, sources) {
  const weights = Array.from({ length: users }, (_, r) => 1 / (r + 10));
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = [];
  let acc = 0;
  for (const w of weights) cdf.push((acc += w / total));
  const pick = () => {
    const x = Math.random();
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  };
  const seq = new Map();
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const u = pick();
    const s = i % sources;
    const k = u * sources + s;
    const q = (seq.get(k) ?? 0) + 1;
    seq.set(k, q);
    const n = () => Math.floor(Math.random() * 20);
    const userId = `ou_bench_${u}`;
    yield { key: userId, value: JSON.stringify({ eventId: `e${i}`, userId, source: `src${s}`, sequence: q, counts: { pc: { web_app: n(), gadget: n() }, mobile: { web_app: n(), gadget: n() } }, occurredAt: now }) };
  }
}

export async function produceAll(topic, gen) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  let batch = [];
  let n = 0;
  const pending = [];
  for (const m of gen) {
    batch.push(m);
    if (batch.length === 10_000) {
      pending.push(producer.send({ topic, messages: batch, acks: -1 }));
      n += batch.length;
      batch = [];
      if (pending.length >= 4) await pending.shift();
    }
  }
  if (batch.length) { pending.push(producer.send({ topic, messages: batch, acks: -1 })); n += batch.length; }
  await Promise.all(pending);
  await producer.disconnect();
  return n;
}

/**
 * A TCP proxy that holds every chunk for `oneWayMs` in each direction: a database or API across a network (these
 * benches otherwise run everything on loopback, where a round trip costs nothing). Returns its port and a close().
 */
export async function delayProxy(targetPort, oneWayMs, targetHost = '127.0.0.1') {
  const pipe = (from, to) => from.on('data', (d) => setTimeout(() => to.write(d), oneWayMs));
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(client, upstream);
    pipe(upstream, client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}
