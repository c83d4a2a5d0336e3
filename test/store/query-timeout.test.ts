import net from 'node:net';
import { Client } from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { CLIENT_TIMEOUT_GRACE_MS, DIRTY_CHANNEL, NOTIFY_DIRTY_SQL, openDatabase, withoutQueryLimit } from '@badges/store';
import { listenOn } from '../../libs/store/src/channel-listener';
import { createTestDatabase, TestDatabase } from '../support/database';
import { FreezingProxy, freezingProxy } from '../support/freezing-proxy';
import { waitFor } from '../support/kafka';

jest.setTimeout(60_000);

/** Settles within `ms`, or says it did not: a broken build must fail here, not hang the suite. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ settled: 'resolved'; v: T } | { settled: 'rejected'; e: any } | { settled: 'hung' }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<{ settled: 'hung' }>((r) => (timer = setTimeout(() => r({ settled: 'hung' }), ms)));
  try {
    return await Promise.race([p.then((v) => ({ settled: 'resolved' as const, v }), (e: unknown) => ({ settled: 'rejected' as const, e })), hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('DATABASE_QUERY_TIMEOUT_MS: a query never waits on Postgres for ever', () => {
  let db: TestDatabase;
  let proxy: FreezingProxy;
  let ds: DataSource | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('qtimeout');
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    proxy = await freezingProxy(db.url);
  });
  afterEach(async () => {
    if (ds?.isInitialized) await ds.destroy().catch(() => undefined);
    ds = undefined;
    await proxy.close();
  });
  const open = async (queryTimeoutMs: number) => {
    ({ ds } = await openDatabase({ url: proxy.url, poolSize: 2, create: false, migrate: false, queryTimeoutMs }));
    return ds!;
  };

  it('a Postgres that stops answering: the query fails with the reason, its connection is dropped, and the next query runs on a new one', async () => {
    const timed = await open(1000);
    await Promise.all([timed.query('SELECT 1'), timed.query('SELECT pg_sleep(0.05)')]); // both pooled connections open
    proxy.freeze();
    const started = Date.now();
    const frozenQuery = await within(timed.query(`SELECT 'frozen'`), 20_000);
    expect(frozenQuery.settled).toBe('rejected');
    const error = (frozenQuery as { e: { message: string; driverError?: { name: string } } }).e;
    expect(error.message).toMatch(/Postgres gave no answer within 3000 ms \(DATABASE_QUERY_TIMEOUT_MS/);
    expect(error.driverError?.name).toBe('QueryTimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000 + CLIENT_TIMEOUT_GRACE_MS - 50);
    // Both frozen connections are given up as they are used; the pool then opens new ones, which answer.
    let stop = false;
    const next = await within(
      (async () => {
        for (let attempt = 0; !stop && attempt < 5; attempt++) {
          const r = await timed.query(`SELECT 'after' AS v`).catch(() => null);
          if (r) return r;
        }
        return null;
      })(),
      20_000,
    );
    stop = true;
    expect(next).toEqual({ settled: 'resolved', v: [{ v: 'after' }] });
  });

  it('a statement waiting on a lock past the limit is cancelled by the server itself (57014), before the client gives up on the connection', async () => {
    const timed = await open(1000);
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE push_budget IN ACCESS EXCLUSIVE MODE`);
      const waited = await within(timed.query('SELECT count(*) FROM push_budget'), 20_000);
      expect(waited.settled).toBe('rejected');
      expect((waited as { e: { driverError?: { code?: string; name?: string } } }).e.driverError).toMatchObject({ code: '57014' });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(await within(timed.query('SELECT 1 AS one'), 10_000)).toEqual({ settled: 'resolved', v: [{ one: 1 }] });
  });

  it('withoutQueryLimit lifts the limit for its work alone: in a transaction, and on a session until the work ends', async () => {
    const timed = await open(1000);
    const sleep = (r: QueryRunner) => r.query('SELECT pg_sleep(1.3) AS slept');
    await timed.transaction(async (m) => {
      await withoutQueryLimit(m.queryRunner!, () => sleep(m.queryRunner!));
    });
    const session = timed.createQueryRunner();
    try {
      await withoutQueryLimit(session, () => sleep(session));
      // Reset afterwards: the same connection is limited again.
      const again = await within(sleep(session), 10_000);
      expect(again).toMatchObject({ settled: 'rejected', e: { driverError: { code: '57014' } } });
    } finally {
      await session.release();
    }
  });

  it('0 is no limit: a statement may run longer than any limit would allow', async () => {
    const untimed = await open(0);
    const slept = await within(untimed.query('SELECT pg_sleep(1.2) AS slept'), 20_000);
    expect(slept.settled).toBe('resolved');
  });
});

describe('the LISTEN connection notices a Postgres that stopped answering', () => {
  let db: TestDatabase;
  let proxy: FreezingProxy;
  beforeAll(async () => {
    db = await createTestDatabase('listenbeat');
    proxy = await freezingProxy(db.url);
  });
  afterAll(async () => {
    await proxy.close();
    await db.drop();
  });

  // Frozen, the connection neither errs nor closes: without the heartbeat it stays open and silent for good, and
  // the reconciler is back on its poll until a restart.
  it('reconnects after an unanswered heartbeat and hears notifications again', async () => {
    const got: (string | undefined)[] = [];
    const failures: string[] = [];
    let connections = 0;
    const sub = listenOn(proxy.url, 'test-listenbeat', DIRTY_CHANNEL, { notify: (p) => got.push(p), connected: () => connections++, failed: (_phase, message) => failures.push(message) }, { heartbeatMs: 200, heartbeatTimeoutMs: 300 });
    const notify = (payload: string) => db.ds.query(NOTIFY_DIRTY_SQL, [payload]);
    try {
      await waitFor('the LISTEN connection', () => connections === 1);
      await notify('1');
      await waitFor('the first notification', () => got.length === 1);

      proxy.freeze();
      await waitFor('the reconnection through the proxy', () => connections === 2, 10_000);
      expect(failures).toEqual(['no answer to a heartbeat within 300 ms']);
      await notify('2');
      await waitFor('a notification after the reconnection', () => got.includes('2'));
      expect(got).toEqual(['1', '2']);
    } finally {
      await sub.close();
    }
  });

  it('closes at once on a frozen connection, where the end is never acknowledged', async () => {
    let connections = 0;
    const sub = listenOn(proxy.url, 'test-listenbeat', DIRTY_CHANNEL, { notify: () => undefined, connected: () => connections++ }, { heartbeatMs: 60_000 });
    await waitFor('the LISTEN connection', () => connections === 1);
    proxy.freeze();
    expect((await within(sub.close(), 5_000)).settled).toBe('resolved');
  });

  it('gives up on a server that accepts the connection and never answers, and tries again', async () => {
    const silent = net.createServer((s) => s.resume()); // reads, never answers: a hung postmaster, a proxy whose backend is gone
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `postgres://postgres@127.0.0.1:${(silent.address() as net.AddressInfo).port}/nowhere`;
    const failures: string[] = [];
    const sub = listenOn(url, 'test-listenbeat', DIRTY_CHANNEL, { notify: () => undefined, failed: (phase, message) => failures.push(`${phase}: ${message}`) }, { connectTimeoutMs: 300 });
    try {
      await waitFor('two attempts given up', () => failures.length >= 2, 10_000);
      expect(new Set(failures)).toEqual(new Set(['connect: no answer to connecting and LISTEN within 300 ms']));
    } finally {
      expect((await within(sub.close(), 5_000)).settled).toBe('resolved');
      await new Promise((r) => silent.close(r));
    }
  });
});
