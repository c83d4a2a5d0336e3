// Idle cost of one replica per role: CPU of the service process (from /proc, every thread) over 20 s after start-up,
// nothing to do (no events, none dirty). Run with the store empty; bench/scale.bench.mjs measures it over 10M users.
//   npm run build && node bench/idle.bench.mjs [role …]
import { loadavg } from 'node:os';
import { cpuTicks, createTopic, deleteTopics, dist, dropDatabase, EMULATOR_MAIN, id, runNode, SERVICE_MAIN, sleep, until, freePort } from './lib.mjs';

const { createDataSource, ensureDatabase, migrate } = dist('libs/store/src/index.js');
const APP = { FEISHU_APP_ID: 'cli_bench', FEISHU_APP_SECRET: 'bench-secret-value-123' };
const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 20);
const roles = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ingest', 'reconcile', 'api', 'ingest,reconcile,api'];

const name = `bench_idle_${id()}`;
const url = `postgres://postgres@127.0.0.1:5432/${name}`;
await ensureDatabase(url);
const ds = createDataSource(url, 2);
await ds.initialize();
await migrate(ds);
await ds.destroy();
const port = await freePort();
const emu = runNode(EMULATOR_MAIN, { EMULATOR_PORT: String(port), EMULATOR_APP_ID: APP.FEISHU_APP_ID, EMULATOR_APP_SECRET: APP.FEISHU_APP_SECRET });
await until('emulator', async () => (await fetch(`http://127.0.0.1:${port}/_emulator/health`).catch(() => null))?.ok, 30_000, 100);
const results = [];
for (const role of roles) {
  const topic = `bench.idle.${id()}`;
  await createTopic(topic, 6);
  const httpPort = await freePort();
  const svc = runNode(SERVICE_MAIN, { BADGE_ROLES: role, KAFKA_TOPIC: topic, KAFKA_GROUP_ID: `idle-${id()}`, KAFKA_TOPIC_PARTITIONS: '6', DATABASE_URL: url, FEISHU_BASE_URL: `http://127.0.0.1:${port}`, ...APP, HTTP_PORT: String(httpPort), AUDIT_API_TOKENS: 'bench-audit-token-0000' });
  await until(`${role} ready`, async () => (await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => null))?.ok, 120_000, 200);
  await sleep(5000); // start-up work (JIT, group join, first gauges) is not idling: measured from here
  const t0 = cpuTicks(svc.child.pid);
  await sleep(SECONDS * 1000); // the window itself: CPU over a fixed wall time
  const cpu = (cpuTicks(svc.child.pid) - t0) / 100; // USER_HZ
  results.push(`${role}: ${cpu.toFixed(2)} s CPU in ${SECONDS} s = ${((cpu / SECONDS) * 100).toFixed(2)}% of a core (load ${loadavg()[0].toFixed(1)})`);
  await svc.stop();
  await deleteTopics(topic, `${topic}.dlq`);
}
await emu.stop();
await dropDatabase(name);
console.log(`\nidle replicas (command: npm run build && node bench/idle.bench.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''})\n  ${results.join('\n  ')}`);
process.exit(0);
