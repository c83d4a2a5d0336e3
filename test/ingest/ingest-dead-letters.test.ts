import { INestApplication } from '@nestjs/common';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { createTopic, deleteTopics, groupLag, kafka, OutMessage, produce, readTopic, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { startService } from '../support/stack';

jest.setTimeout(120_000);

/** The ingest role in this process against the real broker and the real database; the chunk is published first. */
describe('ingest dead-letters what it must refuse, once, and moves on', () => {
  let db: TestDatabase;
  let topic: string;
  let groupId: string;
  const apps: INestApplication[] = [];

  const startIngest = async (env: Record<string, string> = {}) => {
    apps.push(
      await startService(db.url, 'http://127.0.0.1:9', {
        BADGE_ROLES: 'ingest',
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: groupId,
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        ...env,
      }),
    );
  };
  const dlqCount = async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(`${topic}.dlq`)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    } finally {
      await admin.disconnect();
    }
  };
  const drained = () => waitFor('the chunk consumed and its offsets committed', async () => (await groupLag(topic, groupId)) === 0, 30_000, 200);

  beforeEach(async () => {
    db = await createTestDatabase('ingestdlq');
    topic = uniqueName('ingest-dlq');
    groupId = uniqueName('g');
    await createTopic(topic, 1);
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await deleteTopics(topic, `${topic}.dlq`);
    await db.drop();
  });

  it('a chunk of only messages carrying NUL is dead-lettered once, its offsets committed, and its reasons stored', async () => {
    const ok = JSON.parse(wire(event('ou_nul', 'approval', 1, counts(1))));
    const bad: OutMessage[] = [
      { key: 'ou_nul', value: JSON.stringify({ ...ok, counts: { pc: { '\u0000': 1 } } }) },
      { key: 'ou_nul', value: JSON.stringify({ ...ok, counts: { ['\u0000tablet']: {} } }) },
      { key: 'ou_nul', value: JSON.stringify({ ...ok, eventId: 'e\u0000vil' }) },
      { key: 'ou_\u0000', value: JSON.stringify({ ...ok, userId: 'ou_\u0000' }) },
    ];
    await produce(topic, bad);
    await startIngest();
    await drained();
    expect(await dlqCount()).toBe(bad.length);

    const dlq = await readTopic(`${topic}.dlq`, bad.length);
    for (const m of dlq) {
      for (const h of ['x-dlq-reason', 'x-dlq-field', 'x-dlq-rule']) expect(m.headers[h]).not.toContain('\u0000');
    }
    expect(dlq.map((m) => m.headers['x-dlq-field']).sort()).toEqual(['counts.\\u0000tablet', 'counts.pc.\\u0000', 'eventId', 'userId']);
    const rows: { detail: string }[] = await db.ds.query(`SELECT detail FROM badge_audit WHERE kind = 'rejected' AND user_id = 'ou_nul' ORDER BY id`);
    expect(rows.map((r) => r.detail)).toEqual([
      'rejected to the dead-letter topic: counts.pc.\\u0000: unknown field (allowed: web_app, gadget)',
      'rejected to the dead-letter topic: counts.\\u0000tablet: unknown side (allowed: pc, mobile)',
      'rejected to the dead-letter topic: eventId: must not contain control characters (got "e\\u0000vil")',
    ]);
  });

  it.each([
    ['custom', { tenantKey: 't1' }, 'tenantKey: must be absent for a custom app (FEISHU_APP_TYPE=custom) (got "t1")'],
    ['store', {}, 'tenantKey: required for a store app (FEISHU_APP_TYPE=store)'],
  ])('a %s app dead-letters an event breaking the tenant rule, with the reason, and applies the rest', async (appType, extra, reason) => {
    const tenant = appType === 'store' ? { tenantKey: 't1' } : {};
    const good = event('ou_good', 'approval', 1, counts(2), tenant);
    const bad = event('ou_bad', 'approval', 1, counts(3), extra);
    await produce(topic, [
      { key: bad.userId, value: wire(bad) },
      { key: good.userId, value: wire(good) },
    ]);
    await startIngest({ FEISHU_APP_TYPE: appType });
    await drained();
    const [letter] = await readTopic(`${topic}.dlq`, 1);
    expect(letter.key).toBe('ou_bad');
    expect(letter.headers['x-dlq-field']).toBe('tenantKey');
    expect(letter.headers['x-dlq-reason']).toBe(reason);
    expect(await dlqCount()).toBe(1);
    const rows = await db.ds.query(`SELECT tenant_key, user_id, desired_pc_web_app FROM badge_state ORDER BY user_id`);
    expect(rows).toEqual([{ tenant_key: good.tenantKey, user_id: 'ou_good', desired_pc_web_app: 2 }]);
  });

  it('dead-letters an event for a new source of a user at INGEST_MAX_SOURCES_PER_USER, once, and keeps updating the others', async () => {
    const events = [
      event('ou_cap', 'a', 1, counts(1)),
      event('ou_cap', 'b', 1, counts(1)),
      event('ou_cap', 'c', 1, counts(1)),
      event('ou_cap', 'a', 2, counts(4)),
    ];
    await produce(topic, events.map((e) => ({ key: e.userId, value: wire(e) })));
    await startIngest({ INGEST_MAX_SOURCES_PER_USER: '2' });
    await drained();
    const [letter] = await readTopic(`${topic}.dlq`, 1);
    expect(JSON.parse(letter.value!.toString())).toMatchObject({ source: 'c' });
    expect(letter.headers['x-dlq-field']).toBe('source');
    expect(letter.headers['x-dlq-reason']).toBe('source: user already has 2 sources (INGEST_MAX_SOURCES_PER_USER)');
    expect(await dlqCount()).toBe(1);
    const rows = await db.ds.query(`SELECT source, pc_web_app FROM badge_source ORDER BY source`);
    expect(rows).toEqual([{ source: 'a', pc_web_app: 4 }, { source: 'b', pc_web_app: 1 }]);
    expect((await db.ds.query(`SELECT desired_pc_web_app AS pc FROM badge_state`))[0].pc).toBe(5);
  });
});
