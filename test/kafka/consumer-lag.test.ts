import { createTestDatabase, TestDatabase } from '../support/database';
import { createTopic, deleteTopics, kafka, produce, uniqueName } from '../support/kafka';
import { AuditApp, startAuditApp } from '../audit/audit-app';
import { ConsumerLagMonitor } from '../../apps/badge-service/src/kafka/consumer-lag.monitor';

jest.setTimeout(60_000);

/** An api-only replica reports the ingest group's lag from the broker's committed offsets, consuming nothing itself. */
describe('consumer lag in a process without ingest', () => {
  let db: TestDatabase;
  let api: AuditApp;
  const topic = uniqueName('lag');
  const groupId = uniqueName('lag-group');

  beforeAll(async () => {
    db = await createTestDatabase('lag');
    await createTopic(topic, 1);
    await produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '4' }] });
    } finally {
      await admin.disconnect();
    }
    api = await startAuditApp(db, { KAFKA_TOPIC: topic, KAFKA_GROUP_ID: groupId });
  });
  afterAll(async () => {
    await api?.close();
    await deleteTopics(topic, `${topic}.dlq`);
    await db?.drop();
  });

  it('shows the lag per partition and in total in /v1/stats once measured', async () => {
    expect((await api.call('/v1/stats')).body.consumerLag).toBeNull();
    await api.app.get(ConsumerLagMonitor).measure();
    const { body } = await api.call('/v1/stats');
    expect(body.consumerLag).toEqual({ partitions: { '0': 6 }, total: 6, measuredAt: expect.any(String) });
  });
});
