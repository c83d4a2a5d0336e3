import { createTestDatabase, TestDatabase } from '../support/database';
import { createTopic, deleteTopics, groupLag, kafka, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { event, counts, wire } from '../support/events';
import { publish, Replica, SERVICE_DEFAULTS } from './support/stack';

jest.setTimeout(120_000);

/**
 * Regressions found by the reliability suite (hostile messages mixed with kills and restarts):
 * - a chunk holding several messages over 64 KiB was dead-lettered in one send, one record batch over the
 *   broker's message.max.bytes: refused forever, so the partition stalled;
 * - while a member retried a failing chunk it swallowed the heartbeat's "rebalancing" answer and never rejoined,
 *   so every rebalance (and so the start of any new replica, whose consumer.run() waits for the join) waited for
 *   the group's rebalance timeout.
 */
describe('ingest regressions found by the reliability suite', () => {
  let db: TestDatabase;
  let topic: string;
  let groupId: string;
  const replicas: Replica[] = [];
  const crashes: string[] = [];

  const replica = (name: string) => {
    const r = new Replica(name, {
      ...SERVICE_DEFAULTS,
      BADGE_ROLES: 'ingest',
      KAFKA_TOPIC: topic,
      KAFKA_GROUP_ID: groupId,
      DATABASE_URL: db.url,
    }, (w) => crashes.push(w));
    replicas.push(r);
    return r;
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

  beforeEach(async () => {
    db = await createTestDatabase('relreg');
    topic = uniqueName('relreg');
    groupId = uniqueName('relreg');
  });
  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.kill('SIGKILL')));
    await deleteTopics(topic, `${topic}.dlq`);
    await db.drop();
  });

  it('dead-letters a backlog of messages over 64 KiB (several MiB in one chunk) without stalling', async () => {
    await createTopic(topic, 1);
    const big = Array.from({ length: 40 }, (_, i) => ({
      key: `ou_big_${i}`,
      value: JSON.stringify({ eventId: `big-${i}`, padding: 'x'.repeat(70 * 1024) }),
    }));
    const valid = Array.from({ length: 10 }, (_, i) => ({ key: `ou_ok_${i}`, value: wire(event(`ou_ok_${i}`, 'approval', 1, counts(i))) }));
    // Published before the service starts, so the first fetch hands it all over as one chunk.
    await publish(topic, [[...big, ...valid]], 0);
    const r = replica('big');
    await r.start();
    await r.waitLive();
    await waitFor('the backlog consumed', async () => (await groupLag(topic, groupId)) === 0, 60_000, 250);
    expect(await dlqCount()).toBe(big.length);
    const [{ n }] = await db.ds.query(`SELECT count(*)::int n FROM badge_source`);
    expect(n).toBe(valid.length);
    expect(crashes).toEqual([]);
  });

  it('a member retrying a failing chunk still lets the group rebalance: a new replica starts within seconds', async () => {
    await createTopic(topic, 2);
    const a = replica('a');
    await a.start();
    await a.waitReady();
    // Every write of ingest now fails with an error that is retried (not a data error, which would be
    // dead-lettered), and keeps failing until the trigger is dropped.
    await db.ds.query(
      `CREATE FUNCTION reliability_block() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'blocked by the test' USING ERRCODE = '55P03'; END $$`,
    );
    await db.ds.query(`CREATE TRIGGER reliability_block BEFORE INSERT OR UPDATE ON badge_source FOR EACH ROW EXECUTE FUNCTION reliability_block()`);
    await publish(topic, [Array.from({ length: 20 }, (_, i) => ({ key: `ou_r_${i}`, value: wire(event(`ou_r_${i}`, 'approval', 1, counts(1))) }))], 0);
    await waitFor('ingest failing', () => /ingest batch failed; retrying/.test(a.proc!.output()), 30_000, 100).catch((e) => {
      throw new Error(`${(e as Error).message}\n${a.proc!.output().slice(-4000)}`);
    });

    const b = replica('b');
    const t0 = Date.now();
    await b.start();
    // b's consumer.run() returns once it has joined, which needs a to rejoin (the rebalance timeout is 60 s).
    await b.waitLive(20_000);
    const joinedMs = Date.now() - t0;

    await db.ds.query(`DROP TRIGGER reliability_block ON badge_source`);
    await waitFor('the retried chunks applied', async () => (await groupLag(topic, groupId)) === 0, 60_000, 250);
    const [{ n }] = await db.ds.query(`SELECT count(*)::int n FROM badge_source`);
    expect(n).toBe(20);
    expect(joinedMs).toBeLessThan(20_000);
    expect(crashes).toEqual([]);
  });
});
