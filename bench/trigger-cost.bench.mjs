// The GET /v1/stats count triggers' cost on ingest's batch transaction: batches of the same shape applied with the
// triggers on and off (ALTER TABLE … DISABLE TRIGGER USER), alternating, in one process and database.
//   npm run build && node bench/trigger-cost.bench.mjs        (ROUNDS to resize)
import { dist, dropDatabase, id } from './lib.mjs';
const { createDataSource, ensureDatabase, migrate, IngestRepository, AuditPartitionsRepository, addDays, auditDay } = dist('libs/store/src/index.js');
const { newestPerSource } = dist('libs/contracts/src/index.js');
const db = `bench_trig_${id()}`;
const url = `postgres://postgres@127.0.0.1:5432/${db}`;
await ensureDatabase(url);
const ds = createDataSource(url, 2, 'trig'); await ds.initialize(); await migrate(ds);
const parts = new AuditPartitionsRepository(ds);
for (let d = -1; d <= 1; d++) await parts.createPartition(addDays(auditDay(Date.now()), d));
const ingest = new IngestRepository(ds);
const USERS = 20000, BATCH = 5000, ROUNDS = Number(process.env.ROUNDS ?? 24);
let seq = 0;
const batch = () => Array.from({ length: BATCH }, () => {
  const u = Math.floor(Math.random() * USERS);
  return { eventId: `e${++seq}`, userId: `ou_${u}`, userIdType: 'open_id', tenantKey: '', source: `s${seq % 5}`, sequence: seq,
    counts: { pc: { web_app: seq % 7, gadget: 0 }, mobile: { web_app: seq % 3, gadget: 0 } }, occurredAt: new Date() };
});
const set = (on) => ds.query(`ALTER TABLE badge_state ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER; ALTER TABLE badge_audit ${on ? 'ENABLE' : 'DISABLE'} TRIGGER USER`);
for (let i = 0; i < 4; i++) { const { newest, superseded } = newestPerSource(batch()); await ingest.applyBatch(newest, superseded); } // warm: users exist
const times = { on: [], off: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of r % 2 ? ['on', 'off'] : ['off', 'on']) {
    await set(mode === 'on');
    const { newest, superseded } = newestPerSource(batch());
    const t = performance.now();
    await ingest.applyBatch(newest, superseded);
    times[mode].push(performance.now() - t);
  }
}
await set(true);
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`applyBatch of ${BATCH} events over ${USERS} users, ${ROUNDS} batches each: triggers off median ${med(times.off).toFixed(1)} ms, on ${med(times.on).toFixed(1)} ms (${(med(times.on) / med(times.off)).toFixed(3)} ×)`);
await ds.destroy(); await dropDatabase(db);
