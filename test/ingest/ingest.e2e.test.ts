import { counts, event, wire } from '../support/events';
import { createTestDatabase, TestDatabase } from '../support/database';
import { createTopic, deleteTopics, groupLag, OutMessage, produce, readTopic, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { freePort } from '../support/ports';
import { httpReady, runNode, RunningProcess, SERVICE_MAIN } from '../support/service';
import { BadgeEvent, newestPerSource, sumCounts } from '@badges/contracts';

jest.setTimeout(120_000);

describe('ingest role through the real broker and the real database', () => {
  let db: TestDatabase;
  let topic: string;
  const running: RunningProcess[] = [];

  const startIngest = async (groupId: string, extra: Record<string, string> = {}, waitReady = true) => {
    const httpPort = await freePort();
    const p = runNode(SERVICE_MAIN, {
      BADGE_ROLES: 'ingest',
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: groupId,
      DATABASE_URL: db.url,
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      INGEST_MAX_BATCH: '500',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...extra,
    });
    running.push(p);
    if (waitReady) await waitFor('service ready', () => httpReady(`http://127.0.0.1:${httpPort}/health/ready`), 60_000, 200);
    return p;
  };
  const drained = (groupId: string) => waitFor(`group ${groupId} drained`, async () => (await groupLag(topic, groupId)) === 0, 60_000, 200);

  const desiredOf = async () => {
    const rows: { user_id: string; pw: number; pg: number; mw: number; mg: number; rev: string }[] = await db.ds.query(
      `SELECT user_id, desired_pc_web_app pw, desired_pc_gadget pg, desired_mobile_web_app mw, desired_mobile_gadget mg,
              desired_revision rev FROM badge_state ORDER BY user_id`,
    );
    return new Map(rows.map((r) => [r.user_id, r]));
  };
  const expectedOf = (events: BadgeEvent[]) => {
    const byUser = new Map<string, BadgeEvent[]>();
    for (const e of newestPerSource(events).newest) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e]);
    return new Map([...byUser].map(([u, es]) => [u, sumCounts(es.map((e) => e.counts))]));
  };
  const assertMatches = async (expected: Map<string, ReturnType<typeof sumCounts>>) => {
    const actual = await desiredOf();
    expect(actual.size).toBe(expected.size);
    for (const [u, c] of expected) {
      expect({ u, ...actual.get(u) }).toMatchObject({ u, pw: c.pc.web_app, pg: c.pc.gadget, mw: c.mobile.web_app, mg: c.mobile.gadget });
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase('ingest');
    topic = uniqueName('ingest-test');
    await createTopic(topic, 3);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill('SIGKILL')));
    await deleteTopics(topic, `${topic}.dlq`);
    await db.drop();
  });

  // 40 users × 3 sources × 6 sequences, with random counts.
  const generate = () => {
    const events: BadgeEvent[] = [];
    for (let u = 0; u < 40; u++)
      for (const s of ['approval', 'task', 'inbox'])
        for (let q = 1; q <= 6; q++) {
          const n = Math.floor(Math.random() * 5);
          events.push(event(`ou_${u}`, s, q * 10, q === 6 && u % 4 === 0 ? counts(0) : counts(n, q, n % 2, 1)));
        }
    return events;
  };
  const shuffle = <T>(xs: T[]) => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  const asMessages = (es: BadgeEvent[]): OutMessage[] => es.map((e) => ({ key: e.userId, value: wire(e) }));

  it('gives the same final state for events delivered twice, shuffled, or replayed from offset 0', async () => {
    const events = generate();
    const group = uniqueName('g');
    await startIngest(group);
    await produce(topic, asMessages(shuffle([...events, ...events])));
    await drained(group);
    const expected = expectedOf(events);
    await assertMatches(expected);
    const before = await desiredOf();
    const changes = (await db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'change'`))[0].n;

    const replay = uniqueName('replay');
    await startIngest(replay);
    await drained(replay);
    expect(await desiredOf()).toEqual(before); // revisions included: a replay changes nothing
    expect((await db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'change'`))[0].n).toBe(changes);
    const stale = (await db.ds.query(`SELECT count(*)::int n FROM badge_audit WHERE kind = 'stale'`))[0].n;
    expect(stale + changes).toBe(events.length * 4);
  });

  it("puts a message with the header badge-priority: bulk in the bulk lane, and any other in the live lane", async () => {
    const group = uniqueName('g');
    await startIngest(group);
    const msg = (e: BadgeEvent, headers?: Record<string, string>): OutMessage => ({ key: e.userId, value: wire(e), ...(headers ? { headers } : {}) });
    await produce(topic, [
      msg(event('ou_bulk', 'snapshot', 1, counts(1)), { 'badge-priority': 'bulk' }),
      msg(event('ou_live', 'inbox', 1, counts(1))),
      msg(event('ou_other', 'inbox', 1, counts(1)), { 'badge-priority': 'urgent' }),
    ]);
    await drained(group);
    const lanes = await db.ds.query(`SELECT user_id, lane FROM badge_state ORDER BY user_id`);
    expect(lanes).toEqual([
      { user_id: 'ou_bulk', lane: 1 },
      { user_id: 'ou_live', lane: 0 },
      { user_id: 'ou_other', lane: 0 },
    ]);
  });

  it('sends every kind of bad message to the DLQ with its reason while the good ones around it are applied', async () => {
    const good = [event('ou_a', 'approval', 1, counts(1)), event('ou_b', 'task', 2, counts(2)), event('ou_a', 'task', 3, counts(3))];
    const ok = JSON.parse(wire(good[0]));
    const bad: [string, string | Buffer, string][] = [
      ['not json', '{ not json', '$'],
      ['wrong type', JSON.stringify({ ...ok, sequence: 'one' }), 'sequence'],
      ['negative count', JSON.stringify({ ...ok, counts: { pc: { web_app: -1 } } }), 'counts.pc.web_app'],
      ['oversize count', JSON.stringify({ ...ok, counts: { mobile: { gadget: 2 ** 31 } } }), 'counts.mobile.gadget'],
      ['missing field', JSON.stringify({ ...ok, userId: undefined }), 'userId'],
      ['over 64 KiB', JSON.stringify({ ...ok, padding: 'x'.repeat(70 * 1024) }), '$'],
      ['random bytes', Buffer.from([0xff, 0x00, 0x13, 0x37]), '$'],
    ];
    const messages: OutMessage[] = [
      { key: 'ou_a', value: wire(good[0]) },
      ...bad.slice(0, 4).map(([name, value]) => ({ key: `bad-${name}`, value, headers: { 'x-producer': name } })),
      { key: 'ou_b', value: wire(good[1]) },
      ...bad.slice(4).map(([name, value]) => ({ key: `bad-${name}`, value, headers: { 'x-producer': name } })),
      { key: 'ou_a', value: wire(good[2]) },
    ];
    const group = uniqueName('g');
    await startIngest(group);
    await produce(topic, messages);
    await drained(group);
    await assertMatches(expectedOf(good));

    // Refused events whose user is readable show in that user's history.
    const rejected = await db.ds.query(`SELECT user_id, detail FROM badge_audit WHERE kind = 'rejected' ORDER BY id`);
    expect(rejected.map((r: { user_id: string }) => r.user_id)).toEqual(['ou_a', 'ou_a', 'ou_a']);
    expect(rejected.map((r: { detail: string }) => r.detail.split(': ')[1]).sort()).toEqual(['counts.mobile.gadget', 'counts.pc.web_app', 'sequence']);

    const dlq = await readTopic(`${topic}.dlq`, bad.length);
    expect(dlq).toHaveLength(bad.length);
    for (const [name, value, field] of bad) {
      const m = dlq.find((d) => d.key === `bad-${name}`)!;
      expect({ name, field: m.headers['x-dlq-field'] }).toEqual({ name, field });
      expect(m.headers['x-dlq-reason']).toContain(field);
      expect(m.headers['x-producer']).toBe(name); // original headers kept
      expect(m.headers['x-dlq-source-topic']).toBe(topic);
      expect(Number(m.headers['x-dlq-source-offset'])).toBeGreaterThanOrEqual(0);
      expect(Buffer.compare(m.value!, Buffer.from(value))).toBe(0); // original value kept byte for byte
    }
  });

  it('loses nothing and counts nothing twice when killed between the database commit and the offset commit', async () => {
    const events = generate();
    const group = uniqueName('g');
    await produce(topic, asMessages(events));
    const victim = await startIngest(group, { TEST_CRASH_AFTER_INGEST_COMMITS: '2', INGEST_MAX_BATCH: '100' }, false);
    expect(await victim.exited).toBe(-1); // killed by SIGKILL
    const appliedBeforeCrash = (await db.ds.query(`SELECT count(*)::int n FROM badge_audit`))[0].n;
    expect(appliedBeforeCrash).toBeGreaterThan(0);
    expect(await groupLag(topic, group)).toBeGreaterThan(events.length - appliedBeforeCrash); // DB is ahead of Kafka

    await startIngest(group);
    await drained(group);
    await assertMatches(expectedOf(events));
    const twice = await db.ds.query(`SELECT event_id FROM badge_audit WHERE kind = 'change' GROUP BY event_id HAVING count(*) > 1`);
    expect(twice).toEqual([]);
  });

  it('refuses to start on bad configuration, naming each bad variable', async () => {
    const p = runNode(SERVICE_MAIN, {
      KAFKA_BROKERS: 'not a broker',
      HTTP_PORT: '99999',
      BADGE_ROLES: 'ingest,cook',
      FEISHU_RATE_LIMIT: '-3',
      DATABASE_URL: 'mysql://nope',
      FEISHU_APP_SECRET: 'a-secret-value-that-must-not-leak',
    });
    running.push(p);
    const code = await p.exited;
    expect(code).not.toBe(0);
    for (const name of ['KAFKA_BROKERS', 'HTTP_PORT', 'BADGE_ROLES', 'FEISHU_RATE_LIMIT', 'DATABASE_URL']) expect(p.output()).toContain(name);
    expect(p.output()).not.toContain('a-secret-value-that-must-not-leak');
  });
});
