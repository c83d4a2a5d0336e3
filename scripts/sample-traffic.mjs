// Sample traffic for `npm run up`: a few users, three sources, counts that go up and down for ~20 s, then
// the emulator's view of every badge next to what the service computed. Uses the project's own kafkajs.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve('package.json'));
const { Kafka, logLevel, Partitioners } = require('kafkajs');
const topic = process.env.KAFKA_TOPIC ?? 'badge.unread-count-changed.v1';
const emulator = process.env.FEISHU_BASE_URL ?? 'http://127.0.0.1:18080';
const api = `http://127.0.0.1:${process.env.HTTP_PORT ?? 3000}`;
const auth = { authorization: `Bearer ${(process.env.AUDIT_API_TOKENS ?? '').split(',')[0]}` };
const users = Array.from({ length: 8 }, (_, i) => `ou_demo_user_${i + 1}`);
const sources = ['approval', 'task', 'inbox'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const kafka = new Kafka({ clientId: 'sample-traffic', brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
let seq = Date.now();
async function show() {
  const rows = [];
  for (const u of users) {
    const e = await fetch(`${emulator}/_emulator/badges/${u}`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    const s = await fetch(`${api}/v1/badges/${u}`, { headers: auth }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    const f = (side) => (side ? `${side.web_app}/${side.gadget}` : '-');
    rows.push(`${u.padEnd(16)} desired pc ${f(s?.desired?.pc).padEnd(6)} mobile ${f(s?.desired?.mobile).padEnd(6)} | Feishu pc ${f(e?.pc).padEnd(6)} mobile ${f(e?.mobile).padEnd(6)} ${s?.inSync ? 'in sync' : s?.status ?? ''}`);
  }
  console.log(`\n${new Date().toISOString()}  (counts are web_app/gadget)\n${rows.join('\n')}`);
}
for (let round = 0; round < 10; round++) {
  const messages = [];
  for (const u of users) {
    const source = sources[Math.floor(Math.random() * sources.length)];
    const n = () => Math.floor(Math.random() * 6);
    const value = { eventId: `demo-${seq}`, userId: u, source, sequence: ++seq, counts: { pc: { web_app: n(), gadget: n() }, mobile: { web_app: n(), gadget: n() } }, occurredAt: new Date().toISOString() };
    messages.push({ key: u, value: JSON.stringify(value) });
  }
  await producer.send({ topic, messages });
  await sleep(2000);
  if (round % 3 === 2) await show();
}
await producer.disconnect();
await sleep(2500);
await show();
