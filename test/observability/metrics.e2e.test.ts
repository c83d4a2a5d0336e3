import { randomBytes } from 'node:crypto';
import { BadgeEvent, sumCounts } from '@badges/contracts';
import { createTestDatabase, TestDatabase } from '../support/database';
import { counts, event, wire } from '../support/events';
import { createTopic, deleteTopics, groupLag, OutMessage, produce, uniqueName } from '../support/kafka';
import { waitFor } from '../support/wait';
import { Scrape, scrape, startWatchedService } from './observability-stack';
import { WatchedProcess } from '../support/service';
import { startWatchedEmulator } from '../support/stack';

jest.setTimeout(90_000);

const PARTITIONS = 3;

/**
 * /metrics scraped before and after an end-to-end run whose every count is known: distinct events (all applied),
 * malformed messages (dead-lettered), then replays and older sequences (all stale), pushed to the emulator, whose
 * own counters are the reference for the push metrics.
 */
describe('metrics move with the traffic', () => {
  let db: TestDatabase;
  let topic: string;
  let groupId: string;
  let emulator: WatchedProcess;
  const services: WatchedProcess[] = [];
  const appSecret = `secret-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    db = await createTestDatabase('metrics');
    topic = uniqueName('metrics');
    groupId = uniqueName('metrics');
    await createTopic(topic, PARTITIONS);
    emulator = await startWatchedEmulator(appSecret);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await emulator?.stop();
    await deleteTopics(topic, `${topic}.dlq`);
    await db?.drop();
  });

  const emulatorStats = async () => (await (await fetch(`${emulator.url}/_emulator/stats`)).json()) as any;

  it('counts consumed, applied, stale, dead-lettered events, pushes and their latencies, and the consumer lag', async () => {
    const service = await startWatchedService({
      databaseUrl: db.url,
      topic,
      groupId,
      emulatorUrl: emulator.url,
      appSecret,
      auditTokens: [`audit-${randomBytes(12).toString('hex')}`],
      track: services,
    });
    const before = await scrape(service.url);

    // 30 users × 2 sources, one event each: every one changes a source.
    const users = Array.from({ length: 30 }, (_, i) => `ou_metrics_${i}`);
    const fresh: BadgeEvent[] = users.flatMap((u, i) => [event(u, 'approval', 10, counts(i + 1, 1)), event(u, 'task', 10, counts(2, 0, i % 4, 1))]);
    const ok = JSON.parse(wire(fresh[0]));
    const malformed: OutMessage[] = [
      { key: 'bad-json', value: '{ not json' },
      { key: 'bad-type', value: JSON.stringify({ ...ok, sequence: 'ten' }) },
      { key: 'bad-count', value: JSON.stringify({ ...ok, counts: { pc: { web_app: -1 } } }) },
      { key: 'bad-user', value: JSON.stringify({ ...ok, userId: undefined }) },
    ];
    await produce(topic, [...fresh.map((e) => ({ key: e.userId, value: wire(e) })), ...malformed]);
    await waitFor('first round consumed', async () => (await groupLag(topic, groupId)) === 0, 30_000, 100);

    // Then duplicates and older sequences: nothing changes, all stale.
    const stale: BadgeEvent[] = [
      ...fresh.slice(0, 20),
      ...users.slice(0, 10).map((u) => event(u, 'approval', 9, counts(99), { eventId: `${u}:approval:older` })),
    ];
    await produce(topic, stale.map((e) => ({ key: e.userId, value: wire(e) })));
    await waitFor('second round consumed', async () => (await groupLag(topic, groupId)) === 0, 30_000, 100);

    // Every user's badge reaches the emulator.
    const expected = new Map(users.map((u) => [u, sumCounts(fresh.filter((e) => e.userId === u).map((e) => e.counts))]));
    await waitFor(
      'every badge at the emulator',
      async () => {
        for (const [u, c] of expected) {
          const b = (await (await fetch(`${emulator.url}/_emulator/badges/${u}`)).json()) as any;
          const same = (['pc', 'mobile'] as const).every((side) => b[side]?.web_app === c[side].web_app && b[side]?.gadget === c[side].gadget);
          if (!same) return false;
        }
        return true;
      },
      30_000,
      200,
    );

    // The lag gauge is measured every 10 s: wait for a measurement of every partition, caught up.
    const after: Scrape = await waitFor(
      'badge_consumer_lag measured on every partition',
      async () => {
        const m = await scrape(service.url);
        const measured = Array.from({ length: PARTITIONS }, (_, p) => m.has('badge_consumer_lag', { partition: String(p) }));
        if (!measured.every(Boolean) || m.sum('badge_consumer_lag') !== 0) throw new Error(`lag ${JSON.stringify(m.samples.filter((s) => s.name === 'badge_consumer_lag'))}`);
        return m;
      },
      30_000,
      500,
    );
    const delta = (name: string, match?: Record<string, string>) => after.sum(name, match) - before.sum(name, match);
    const messages = fresh.length + malformed.length + stale.length;

    expect({
      consumed: delta('badge_events_consumed_total'),
      applied: delta('badge_events_applied_total'),
      stale: delta('badge_events_stale_total'),
      deadLettered: delta('badge_events_dead_lettered_total'),
    }).toEqual({ consumed: messages, applied: fresh.length, stale: stale.length, deadLettered: malformed.length });
    expect(after.sum('badge_events_dead_lettered_total', { field: '$' })).toBe(1);
    expect(after.sum('badge_events_dead_lettered_total', { field: 'sequence' })).toBe(1);

    // Pushes: the service's counts agree with what the emulator answered.
    const emu = await emulatorStats();
    const emulatorAnswers = Object.values(emu.codes['app_badge/set'] as Record<string, number>).reduce((a, b) => a + b, 0);
    const applied = delta('badge_pushes_total', { outcome: 'applied' });
    expect(applied).toBeGreaterThanOrEqual(users.length);
    expect(applied).toBe(emu.codes['app_badge/set']['0']);
    expect(after.sum('badge_pushes_total', { outcome: 'applied', code: '0' })).toBe(applied);
    expect(delta('badge_pushes_total')).toBe(emulatorAnswers);

    // Histograms: one push latency per attempt, one event-to-applied latency per applied push.
    for (const h of ['badge_push_duration_seconds', 'badge_event_to_applied_seconds']) {
      expect(after.sum(`${h}_count`)).toBeGreaterThan(0);
      expect(after.sum(`${h}_bucket`, { le: '+Inf' })).toBe(after.sum(`${h}_count`));
      expect(after.sum(`${h}_sum`)).toBeGreaterThan(0);
    }
    expect(delta('badge_push_duration_seconds_count')).toBe(delta('badge_pushes_total'));
    expect(delta('badge_event_to_applied_seconds_count')).toBe(applied);
    expect(delta('badge_ingest_batch_size_sum')).toBe(messages);

    const types = (m: Scrape) => Object.fromEntries([...m.types].filter(([name]) => name.startsWith('badge_') && !name.startsWith('badge_process_')));
    expect(types(after)).toMatchObject({
      badge_events_consumed_total: 'counter',
      badge_events_applied_total: 'counter',
      badge_events_stale_total: 'counter',
      badge_events_dead_lettered_total: 'counter',
      badge_pushes_total: 'counter',
      badge_push_duration_seconds: 'histogram',
      badge_event_to_applied_seconds: 'histogram',
      badge_ingest_batch_size: 'histogram',
      badge_consumer_lag: 'gauge',
      badge_dirty_users: 'gauge',
      badge_oldest_pending_age_seconds: 'gauge',
    });
    // Every sample belongs to a declared metric (a histogram's _bucket/_sum/_count to its family).
    const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const undeclared = after.samples.filter((s) => !after.types.has(s.name) && !after.types.has(family(s.name))).map((s) => s.name);
    expect(undeclared).toEqual([]);
  });
});
