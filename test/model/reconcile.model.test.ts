import fc from 'fast-check';
import { loadConfig } from '@badges/config';
import { createDataSource } from '@badges/store';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../support/database';
import { commandArbitraries } from './model-commands';
import { ModelWorld } from './model-world';

/**
 * Model-based test of the reconcile path: fast-check interleaves events, claims, sends, Feishu's answers and
 * faults, replica deaths, clock jumps, time passing, operator resyncs, drift repair and another writer, over the
 * real repositories (real Postgres) and the real decision code, against a strict model of Feishu.
 *
 * MODEL_RUNS=n sets the number of runs; MODEL_SEED=s MODEL_PATH=p MODEL_REPLAY_PATH=r replays a reported failure
 * (s and p from fast-check's "{ seed, path }" line, r from the counterexample's replayPath comment).
 * `npm run test:model -- --runs N --seed S --path P --replay-path R` does the same. MODEL_DEBUG=1 prints each
 * run's trace; MODEL_OMIT (see model-commands.ts) leaves out commands or faults.
 */

const numRuns = Number(process.env.MODEL_RUNS ?? 600);
const seed = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED);
const path = process.env.MODEL_PATH;
// fc.commands records which commands ran in the counterexample (its /*replayPath="…"*/): needed with MODEL_PATH.
const replayPath = process.env.MODEL_REPLAY_PATH;
const maxCommands = Number(process.env.MODEL_MAX_COMMANDS ?? 40);
// Stops generating new runs after this long; a failure found before is still shrunk and reported.
const budgetMs = Number(process.env.MODEL_TIME_BUDGET_MS ?? 140_000);

jest.setTimeout(budgetMs + 600_000);

describe('reconcile model', () => {
  let db: TestDatabase;
  let world: ModelWorld;

  let ds: DataSource | undefined;

  beforeAll(async () => {
    const config = loadConfig({ BADGE_ROLES: 'reconcile', FEISHU_APP_ID: 'model', FEISHU_APP_SECRET: 'model' });
    db = await createTestDatabase('model');
    // The pool the service runs with, its query limit included (the test helper's own pool has none).
    ds = createDataSource(db.url, 10, 'model', config.database.queryTimeoutMs);
    await ds.initialize();
    world = new ModelWorld(ds, config);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('keeps Feishu equal to the desired badge under every interleaving it tries', async () => {
    let runs = 0;
    const started = Date.now();
    const property = fc.asyncProperty(fc.boolean(), fc.commands(commandArbitraries, { maxCommands, size: 'max', ...(replayPath === undefined ? {} : { replayPath }) }), async (hints, cmds) => {
      runs++;
      await world.reset(hints);
      await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
      await world.quiesce();
      if (process.env.MODEL_DEBUG) console.log(world.trace.join('\n'));
    });
    await fc.assert(property, {
      numRuns,
      ...(seed === undefined ? {} : { seed }),
      ...(path === undefined ? {} : { path, endOnFailure: true }),
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
    });
    console.log(`model: ${runs} runs, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
