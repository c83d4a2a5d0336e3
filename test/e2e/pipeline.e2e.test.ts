import { BadgeEvent, newestPerSource, sumCounts } from '@badges/contracts';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { createTopic, deleteTopics, produce, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { freePort } from '../support/ports';
import { httpReady, runNode, RunningProcess, SERVICE_MAIN } from '../support/service';
import { APP_ID, APP_SECRET, AUDIT_TOKEN, emulatorJson, startEmulatorProcess } from '../support/stack';

jest.setTimeout(180_000);

describe('end to end: events into Kafka, badges out at the emulator', () => {
  let db: TestDatabase;
  let topic: string;
  let emulator: { url: string; close(): Promise<void> };
  const procs: RunningProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('e2e');
    topic = uniqueName('e2e');
    await createTopic(topic, 3);
    emulator = await startEmulatorProcess({ EMULATOR_RATE_LIMIT: '100' });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGTERM')));
    await emulator.close();
    await deleteTopics(topic, `${topic}.dlq`);
    await db.drop();
  });

  it('every user badge at the emulator equals the sum of its sources newest counts, whatever the delivery order', async () => {
    const port = await freePort();
    const p = runNode(SERVICE_MAIN, {
      BADGE_ROLES: 'ingest,reconcile',
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: uniqueName('e2e'),
      DATABASE_URL: db.url,
      FEISHU_BASE_URL: emulator.url,
      FEISHU_APP_ID: APP_ID,
      FEISHU_APP_SECRET: APP_SECRET,
      AUDIT_API_TOKENS: AUDIT_TOKEN,
      FEISHU_RATE_LIMIT: '100',
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    procs.push(p);
    await waitFor('service ready', () => httpReady(`http://127.0.0.1:${port}/health/ready`), 60_000, 200);

    const events: BadgeEvent[] = [];
    for (let u = 0; u < 200; u++)
      for (const s of ['approval', 'task', 'inbox'])
        for (let q = 1; q <= 4; q++) events.push(event(`ou_e2e_${u}`, s, q, counts((u + q) % 6, q % 2, (u * q) % 4, s === 'task' ? 0 : 1)));
    const shuffled = [...events, ...events.slice(0, 300)].sort(() => Math.random() - 0.5);
    await produce(topic, shuffled.map((e) => ({ key: e.userId, value: wire(e) })));

    const expected = new Map<string, ReturnType<typeof sumCounts>>();
    const byUser = new Map<string, BadgeEvent[]>();
    for (const e of newestPerSource(events).newest) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
    for (const [u, es] of byUser) expected.set(u, sumCounts(es.map((e) => e.counts)));

    const mismatches = async () => {
      const bad: string[] = [];
      for (const [u, c] of expected) {
        const b = await emulatorJson(emulator, `/_emulator/badges/${u}`).catch(() => null);
        const same = b?.pc && b?.mobile && b.pc.web_app === c.pc.web_app && b.pc.gadget === c.pc.gadget && b.mobile.web_app === c.mobile.web_app && b.mobile.gadget === c.mobile.gadget;
        if (!same) bad.push(u);
      }
      return bad;
    };
    await waitFor('emulator shows every expected badge', async () => (await mismatches()).length === 0, 120_000, 1000);
    const s = await emulatorJson(emulator, '/_emulator/stats');
    expect(s.codes?.['app_badge/set']?.['213004'] ?? 0).toBe(0);
  });
});
