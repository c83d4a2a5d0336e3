import { AppConfig, configServiceOf } from '@badges/config';
import { BadgeEvent } from '@badges/contracts';
import { IngestRepository, RejectedEvent } from '@badges/store';
import { Clock } from '../common/clock';
import { Metrics } from '../metrics/metrics.service';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { IngestService } from './ingest.service';
import { DeadLetter, InboundMessage } from './ingest.types';

const msg = (offset: number, value: object | string): InboundMessage => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: null,
  value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers: {},
});
const ev = (userId: string) => ({
  eventId: `e-${userId}`,
  userId,
  source: 'approval',
  sequence: 1,
  counts: { pc: { web_app: 1 } },
  occurredAt: '2026-11-24T08:00:00Z',
});

/** A repository that refuses, like Postgres would, any batch holding the poison user. */
class RefusingRepository {
  readonly applied: string[] = [];
  async applyBatch(newest: BadgeEvent[], superseded: BadgeEvent[], _rejected: RejectedEvent[] = []) {
    if ([...newest, ...superseded].some((e) => e.userId === 'poison')) throw Object.assign(new Error('invalid input'), { code: '22021' });
    this.applied.push(...newest.map((e) => e.userId));
    return { accepted: newest.length, stale: superseded.length, usersChanged: newest.length, refused: [] };
  }
}
class RecordingPublisher {
  readonly letters: DeadLetter[] = [];
  async publish(letters: readonly DeadLetter[]) {
    this.letters.push(...letters);
  }
}

describe('IngestService', () => {
  const setup = (repo: object, appType: 'custom' | 'store' = 'custom') => {
    const publisher = new RecordingPublisher();
    const config = { feishu: { appType }, ingest: { maxSourcesPerUser: 64 } } as AppConfig;
    const sut = new IngestService(configServiceOf(config), repo as IngestRepository, publisher as unknown as DeadLetterPublisher, new Metrics(), new Clock());
    return { sut, publisher };
  };

  it('dead-letters the one event the database refuses and applies every other event of the batch', async () => {
    const repo = new RefusingRepository();
    const { sut, publisher } = setup(repo);
    const users = ['a', 'b', 'c', 'poison', 'd', 'e', 'f'];
    const r = await sut.apply(users.map((u, i) => msg(i, ev(u))));
    expect(repo.applied.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(publisher.letters.map((l) => [l.message.offset, l.rule])).toEqual([['3', 'refused by the database (SQLSTATE 22021)']]);
    expect(r).toMatchObject({ accepted: 6, deadLettered: 1 });
  });

  it('leaves errors that are not about the data (e.g. the connection) to the caller, dead-lettering nothing', async () => {
    const repo = { applyBatch: async () => Promise.reject(Object.assign(new Error('terminating connection'), { code: '57P01' })) };
    const { sut, publisher } = setup(repo);
    await expect(sut.apply([msg(0, ev('a'))])).rejects.toThrow('terminating connection');
    expect(publisher.letters).toEqual([]);
  });

  it('a chunk of only refused messages whose audit rows the database refuses moves on: dead-lettered once, audit rows dropped', async () => {
    let calls = 0;
    const repo = {
      applyBatch: async (_n: BadgeEvent[], _s: BadgeEvent[], rejected: RejectedEvent[] = []) => {
        calls++;
        if (rejected.length > 0) throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
        return { accepted: 0, stale: 0, usersChanged: 0, refused: [] };
      },
    };
    const { sut, publisher } = setup(repo);
    const r = await sut.apply([msg(0, { ...ev('a'), sequence: 'x' }), msg(1, { ...ev('b'), counts: { pc: { web: 1 } } })]);
    expect(publisher.letters.map((l) => l.message.offset)).toEqual(['0', '1']);
    expect(r).toMatchObject({ accepted: 0, deadLettered: 2 });
    expect(calls).toBe(1);
  });

  it('dead-letters the newest event of each new source the repository refused for the cap, after the database work', async () => {
    const repo = {
      applyBatch: async (newest: BadgeEvent[], superseded: BadgeEvent[]) => ({
        accepted: 1,
        stale: superseded.length,
        usersChanged: 1,
        refused: newest.filter((e) => e.source === 'new').map(({ tenantKey, userIdType, userId, source }) => ({ tenantKey, userIdType, userId, source })),
      }),
    };
    const { sut, publisher } = setup(repo);
    const r = await sut.apply([msg(0, { ...ev('a'), source: 'new' }), msg(1, { ...ev('a'), source: 'new', sequence: 2 }), msg(2, ev('a'))]);
    expect(publisher.letters.map((l) => [l.message.offset, l.field, l.reason])).toEqual([
      ['1', 'source', 'source: user already has 64 sources (INGEST_MAX_SOURCES_PER_USER)'],
    ]);
    expect(r).toMatchObject({ accepted: 1, stale: 1, deadLettered: 1 });
  });

  it('publishes contract rejections once, before the database work', async () => {
    const repo = new RefusingRepository();
    const { sut, publisher } = setup(repo);
    const r = await sut.apply([msg(0, '{ nope'), msg(1, ev('a'))]);
    expect(publisher.letters.map((l) => l.field)).toEqual(['$']);
    expect(r).toMatchObject({ accepted: 1, deadLettered: 1 });
  });
});
