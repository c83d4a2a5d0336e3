import { newestPerSource } from '@badges/contracts';
import { IngestRepository } from '@badges/store';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event } from '../support/events';

describe('IngestRepository on the real Postgres', () => {
  let db: TestDatabase;
  let sut: IngestRepository;

  beforeAll(async () => {
    db = await createTestDatabase('ingestrepo');
    sut = new IngestRepository(db.ds);
  });
  afterAll(() => db.drop());

  const apply = (events: ReturnType<typeof event>[]) => {
    const { newest, superseded } = newestPerSource(events);
    return sut.applyBatch(newest, superseded);
  };
  const desired = async (userId: string) =>
    (
      await db.ds.query(
        `SELECT desired_pc_web_app, desired_pc_gadget, desired_mobile_web_app, desired_mobile_gadget, desired_revision
         FROM badge_state WHERE user_id = $1`,
        [userId],
      )
    )[0];

  it('sums each source newest counts per side and field, and a source clearing to zero clears its share', async () => {
    await apply([event('u1', 'approval', 1, counts(1, 0, 1, 0)), event('u1', 'task', 1, counts(2, 1, 0, 3))]);
    expect(await desired('u1')).toMatchObject({ desired_pc_web_app: 3, desired_pc_gadget: 1, desired_mobile_web_app: 1, desired_mobile_gadget: 3 });
    await apply([event('u1', 'task', 2, counts(0))]);
    expect(await desired('u1')).toMatchObject({ desired_pc_web_app: 1, desired_pc_gadget: 0, desired_mobile_web_app: 1, desired_mobile_gadget: 0 });
  });

  it('ignores an older sequence after a newer one and records it as stale', async () => {
    await apply([event('u2', 'approval', 5, counts(5))]);
    const before = await desired('u2');
    const r = await apply([event('u2', 'approval', 4, counts(9))]);
    expect(r).toEqual({ accepted: 0, stale: 1, usersChanged: 0, refused: [] });
    expect(await desired('u2')).toEqual(before);
    const audit = await db.ds.query(`SELECT kind, sequence, detail FROM badge_audit WHERE user_id = 'u2' ORDER BY id`);
    expect(audit).toEqual([
      { kind: 'change', sequence: '5', detail: null },
      { kind: 'stale', sequence: '4', detail: 'sequence 4 is not above the stored 5' },
    ]);
  });

  it('bumps the revision only when the sum changes', async () => {
    await apply([event('u3', 'a', 1, counts(2)), event('u3', 'b', 1, counts(0))]);
    const r1 = (await desired('u3')).desired_revision;
    await apply([event('u3', 'a', 2, counts(1)), event('u3', 'b', 2, counts(1))]);
    expect((await desired('u3')).desired_revision).toBe(r1);
  });

  it('caps the sum at 2^31-1', async () => {
    const max = 2 ** 31 - 1;
    await apply([event('u4', 'a', 1, counts(max)), event('u4', 'b', 1, counts(max))]);
    expect((await desired('u4')).desired_pc_web_app).toBe(max);
  });

  it('keeps users apart by tenant and user id type', async () => {
    await apply([
      event('u5', 'a', 1, counts(1)),
      event('u5', 'a', 1, counts(2), { tenantKey: 't1' }),
      event('u5', 'a', 1, counts(3), { userIdType: 'union_id' }),
    ]);
    const rows = await db.ds.query(`SELECT tenant_key, user_id_type, desired_pc_web_app FROM badge_state WHERE user_id = 'u5' ORDER BY 1, 2`);
    expect(rows).toEqual([
      { tenant_key: '', user_id_type: 'open_id', desired_pc_web_app: 1 },
      { tenant_key: '', user_id_type: 'union_id', desired_pc_web_app: 3 },
      { tenant_key: 't1', user_id_type: 'open_id', desired_pc_web_app: 2 },
    ]);
  });

  it('stores a rejected reason holding NUL or a lone surrogate, escaped as JSON would', async () => {
    const reason = 'counts.pc.\u0000: unknown field; half a pair \ud83d';
    await sut.applyBatch([], [], [{ tenantKey: '', userIdType: 'open_id', userId: 'u7', eventId: null, source: null, reason }]);
    const rows = await db.ds.query(`SELECT detail FROM badge_audit WHERE user_id = 'u7' AND kind = 'rejected'`);
    expect(rows).toEqual([{ detail: 'counts.pc.\\u0000: unknown field; half a pair \\ud83d' }]);
  });

  it('concurrent batches touching one user through different sources lose no update', async () => {
    const batches = Array.from({ length: 20 }, (_, i) => apply([event('u6', `s${i}`, 1, counts(1))]));
    await Promise.all(batches);
    expect((await desired('u6')).desired_pc_web_app).toBe(20);
  });

  it("commits three concurrent batches of 5,000 distinct users each (each user's lock held to commit; the server's lock table is shared)", async () => {
    const batch = (b: number) => apply(Array.from({ length: 5000 }, (_, i) => event(`lt${b}_${i}`, 'boot', 1, counts(1))));
    await Promise.all([batch(1), batch(2), batch(3)]);
    const [{ n }] = await db.ds.query(`SELECT count(*)::int n FROM badge_state WHERE user_id LIKE 'lt%' AND desired_pc_web_app = 1`);
    expect(n).toBe(15000);
  });
});
