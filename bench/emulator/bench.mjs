// Load test of the built Feishu emulator: N concurrent clients hammer app_badge/set, each on its own
// users with strictly increasing versions, faults and rate limit off.
//
//   npm run build && npm exec -- node bench/emulator/bench.mjs
//   BENCH_CLIENTS=200 BENCH_SECONDS=10 BENCH_USERS_PER_CLIENT=10 npm exec -- node bench/emulator/bench.mjs
//   BENCH_EMULATOR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/emulator-prof" ... to profile the emulator
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/apps/feishu-emulator/apps/feishu-emulator/src/main.js');
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 1);
const USERS_PER_CLIENT = Number(process.env.BENCH_USERS_PER_CLIENT ?? 10);
const VERSION_BASE = 1_700_000_000_000;

if (!existsSync(MAIN)) {
  console.error(`${MAIN} is missing: run npm run build first`);
  process.exit(1);
}

const NODE_ARGS = (process.env.BENCH_EMULATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);

const emulator = spawn(process.execPath, [...NODE_ARGS, MAIN], {
  env: {
    PATH: process.env.PATH ?? '',
    EMULATOR_PORT: '0',
    EMULATOR_RATE_LIMIT: '0',
    EMULATOR_TOKEN_RATE_LIMIT: '0',
    EMULATOR_FAULT_5XX_RATE: '0',
    EMULATOR_FAULT_AMBIGUOUS_RATE: '0',
    EMULATOR_FAULT_HANG_RATE: '0',
    EMULATOR_FAULT_DROP_RATE: '0',
    EMULATOR_LATENCY_MS: '0',
    EMULATOR_LATENCY_JITTER_MS: '0',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const baseUrl = await new Promise((resolve, reject) => {
  let out = '';
  emulator.stdout.on('data', (chunk) => {
    out += chunk;
    const line = out.split('\n').find((l) => l.includes('feishu emulator listening'));
    if (line) resolve(JSON.parse(line).url);
  });
  emulator.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
});

// CPU seconds the emulator process used so far (Linux /proc), to show whether it was the bottleneck.
function emulatorCpuSeconds() {
  try {
    const fields = readFileSync(`/proc/${emulator.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
const { hostname, port } = new URL(baseUrl);

function post(pathname, body, headers = {}) {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        hostname,
        port,
        path: pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function getJson(pathname) {
  const res = await fetch(new URL(pathname, baseUrl));
  return res.json();
}

const tokenAnswer = JSON.parse(
  (await post('/open-apis/auth/v3/tenant_access_token/internal', { app_id: 'cli_emulator', app_secret: 'emulator-secret' })).text,
);
const authorization = `Bearer ${tokenAnswer.tenant_access_token}`;

let latencies = new Float64Array(1 << 20);
let count = 0;
let errors = 0;
let measuring = false;
let stop = false;
const firstErrors = [];

function record(ms) {
  if (count === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[count++] = ms;
}

async function client(index) {
  const users = Array.from({ length: USERS_PER_CLIENT }, (_, k) => ({ id: `ou_bench_${index}_${k}`, version: VERSION_BASE }));
  for (let n = 0; !stop; n += 1) {
    const user = users[n % users.length];
    user.version += 1;
    const body = { user_id: user.id, version: String(user.version), pc: { web_app: n % 100, gadget: 0 }, mobile: { web_app: n % 100, gadget: 0 } };
    const started = process.hrtime.bigint();
    const answer = await post('/open-apis/application/v6/app_badge/set?user_id_type=open_id', body, { authorization });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (!measuring) continue;
    record(ms);
    if (answer.status !== 200 || !answer.text.startsWith('{"code":0,')) {
      errors += 1;
      if (firstErrors.length < 5) firstErrors.push(`${answer.status} ${answer.text.slice(0, 200)}`);
    }
  }
}

const running = Array.from({ length: CLIENTS }, (_, i) => client(i));
await new Promise((resolve) => setTimeout(resolve, WARMUP_SECONDS * 1000));
measuring = true;
const startedAt = process.hrtime.bigint();
const cpuBefore = emulatorCpuSeconds();
const clientCpuBefore = process.cpuUsage();
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
measuring = false;
const elapsedS = Number(process.hrtime.bigint() - startedAt) / 1e9;
const cpuAfter = emulatorCpuSeconds();
const clientCpu = process.cpuUsage(clientCpuBefore);
stop = true;
await Promise.all(running);

const stats = await getJson('/_emulator/stats');
agent.destroy();
emulator.kill('SIGTERM');
await new Promise((resolve) => emulator.once('exit', resolve));

const sorted = latencies.subarray(0, count).sort();
const pct = (p) => sorted[Math.min(count - 1, Math.floor((p / 100) * count))].toFixed(2);
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`command:        BENCH_CLIENTS=${CLIENTS} BENCH_SECONDS=${SECONDS} BENCH_USERS_PER_CLIENT=${USERS_PER_CLIENT} npm exec -- node bench/emulator/bench.mjs`);
console.log(`environment:    node ${process.version}, ${os.cpus().length} x ${cpu}, emulator as one child process, client in this process`);
console.log(`clients:        ${CLIENTS} concurrent, keep-alive, ${USERS_PER_CLIENT} users each, strictly increasing versions`);
console.log(`measured:       ${count} requests in ${elapsedS.toFixed(2)} s after ${WARMUP_SECONDS} s warm-up`);
console.log(`throughput:     ${(count / elapsedS).toFixed(0)} requests/s`);
console.log(`latency (ms):   p50 ${pct(50)}  p99 ${pct(99)}  max ${sorted[count - 1].toFixed(2)}`);
console.log(`non-success:    ${errors}${firstErrors.length ? `  e.g. ${firstErrors.join(' | ')}` : ''}`);
console.log(`emulator saw:   app_badge/set codes ${JSON.stringify(stats.codes['app_badge/set'])}, peak concurrent per user ${stats.concurrency.peakConcurrentPerUser}, peak in flight ${stats.concurrency.peakInFlight}`);
if (cpuBefore !== null && cpuAfter !== null) {
  const emulatorShare = ((cpuAfter - cpuBefore) / elapsedS) * 100;
  const clientShare = ((clientCpu.user + clientCpu.system) / 1e6 / elapsedS) * 100;
  console.log(`cpu:            emulator ${emulatorShare.toFixed(0)}% of one core, bench client ${clientShare.toFixed(0)}% of one core`);
}
if (errors > 0) process.exitCode = 1;
