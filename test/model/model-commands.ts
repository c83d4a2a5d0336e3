import fc from 'fast-check';
import { FAULTS, Fault, INT64_MAX, Side } from './feishu.model';
import { EventSpec, ModelWorld, REPLICA_COUNT, USERS, Violation } from './model-world';

/** One step of a run. The world is both fast-check's model and the real system: preconditions read it. */
class Step implements fc.AsyncCommand<ModelWorld, ModelWorld> {
  constructor(
    private readonly label: string,
    private readonly pre: (w: ModelWorld) => boolean,
    private readonly act: (w: ModelWorld) => Promise<unknown>,
  ) {}

  check(w: Readonly<ModelWorld>): boolean {
    return this.pre(w as ModelWorld);
  }

  async run(w: ModelWorld): Promise<void> {
    let out: unknown;
    try {
      out = await this.act(w);
    } catch (e) {
      if (e instanceof Violation) throw e;
      w.fail(`${this.label}: statement or step error escaped: ${(e as Error).message}`);
    }
    w.note(out === undefined ? this.label : `${this.label} → ${typeof out === 'object' && out !== null ? JSON.stringify(out) : String(out)}`);
    await w.checkStep();
  }

  toString(): string {
    return this.label;
  }
}

/**
 * MODEL_OMIT (comma-separated) leaves out command kinds, faults or other-writer versions, to measure how soon the
 * rest find a defect: e.g. MODEL_OMIT=other-writer,conflict-hint-int64-max ('crash': no death inside a whole
 * iteration). Nothing is omitted by default.
 */
const omitted = new Set((process.env.MODEL_OMIT ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const kept = <T>(name: string, arbitrary: fc.Arbitrary<T>, weight: number) => (omitted.has(name) ? [] : [{ weight, arbitrary }]);

const replica = fc.integer({ min: 0, max: REPLICA_COUNT - 1 });
// Mostly one user, so that its events, claims and faults meet; the other shares batches and slots.
const user = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: USERS.length - 1 }) });
const alive = (r: number) => (w: ModelWorld) => w.replicas[r].alive;

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  user,
  source: fc.constantFrom<'a' | 'b'>('a', 'b'),
  order: fc.oneof(
    { weight: 6, arbitrary: fc.constant<EventSpec['order']>('next') },
    { weight: 1, arbitrary: fc.constantFrom<EventSpec['order']>('duplicate', 'older') },
  ),
  pcWeb: fc.integer({ min: 0, max: 1 }),
  mobileWeb: fc.integer({ min: 0, max: 1 }),
});
const showEvent = (e: EventSpec) => `${USERS[e.user]}/${e.source} ${e.order} pc=${e.pcWeb} mobile=${e.mobileWeb}`;

const injected = FAULTS.filter((f) => f !== 'natural' && !omitted.has(f));
const fault: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Fault>('natural') },
  ...(injected.length > 0 ? [{ weight: 1, arbitrary: fc.constantFrom(...injected) }] : []),
);

/** Another writer's versions, far ahead of ours (epoch ms): microsecond and nanosecond clocks, int64's edge. */
const otherVersions: [string, () => bigint][] = [
  ['epoch-us', () => BigInt(Date.now()) * 1000n],
  ['epoch-ns', () => BigInt(Date.now()) * 1_000_000n],
  ['int64-max', () => INT64_MAX],
  ['int64-max-minus-5', () => INT64_MAX - 5n],
];
const otherVersion = fc.constantFrom(...otherVersions.filter(([name]) => !omitted.has(name)));

const step = (label: string, pre: (w: ModelWorld) => boolean, act: (w: ModelWorld) => Promise<unknown>) => new Step(label, pre, act);
const holds = (r: number, state: 'claimed' | 'sending') => (w: ModelWorld) => w.replicas[r].alive && w.replicas[r].count(state) > 0;
const timeout = (applied: boolean) => (applied ? 'timeout-applied' : 'timeout-lost');
const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms}`;

const events = fc
  .array(eventSpec, { minLength: 1, maxLength: 2 })
  .map((es) => step(`events(${es.map(showEvent).join(', ')})`, () => true, (w) => w.events(es)));
const claim = replica.map((r) => step(`claim(r${r})`, alive(r), (w) => w.replicas[r].claim().then((n) => `${n} claimed`)));
const send = fc.tuple(replica, fc.nat(3)).map(([r, k]) => step(`send(r${r}, #${k})`, holds(r, 'claimed'), (w) => w.replicas[r].send(k)));
const answer = fc
  .tuple(replica, fc.nat(3), fault)
  .map(([r, k, f]) => step(`feishu answers(r${r}, #${k}, ${f})`, holds(r, 'sending'), (w) => w.replicas[r].answer(k, f)));
const complete = replica.map((r) =>
  step(`complete(r${r})`, (w) => w.replicas[r].alive && w.replicas[r].hasDecidedBatch(), (w) => w.replicas[r].complete()),
);
const work = fc
  .tuple(replica, fault, fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, ...kept('crash', fc.constant(true), 1)))
  .map(([r, f, crash]) =>
    step(
      `works(r${r}: claim, send all, feishu answers ${f}, ${crash ? 'then r' + r + ' dies before completing' : 'complete'})`,
      alive(r),
      (w) => w.replicas[r].work(f, crash).then((n) => n.join(', ')),
    ),
  );
const die = fc
  .tuple(replica, fc.boolean())
  .map(([r, applied]) =>
    step(`dies(r${r}${applied ? ', its push in flight is applied' : ''})`, alive(r), async (w) => w.replicas[r].die(timeout(applied))),
  );
const restart = replica.map((r) => step(`restarts(r${r})`, (w) => !w.replicas[r].alive, async (w) => w.replicas[r].restart()));
const stop = replica.map((r) =>
  step(`stops gracefully(r${r})`, (w) => w.replicas[r].alive && w.replicas[r].canStop(), (w) => w.replicas[r].stop().then((n) => `${n} released`)),
);
const clockJump = fc
  .tuple(replica, fc.constantFrom(-3000, -2000, -500, 0, 30, 500, 2000, 2500, 5000))
  .map(([r, ms]) => step(`clock jumps(r${r} to ${signed(ms)} ms)`, () => true, async (w) => void (w.replicas[r].offsetMs = ms)));
const timePasses = fc
  .tuple(fc.constantFrom(10, 200, 1000, 2500, 6000, 31_000, 331_000), fc.boolean())
  .map(([ms, applied]) =>
    step(`time passes(${ms} ms${ms >= 5000 ? `, pushes in flight end: ${timeout(applied)}` : ''})`, () => true, (w) => w.timePasses(ms, applied)),
  );
const resync = user.map((u) => step(`operator resyncs(${USERS[u]})`, () => true, (w) => w.resync(u).then((r) => r?.status ?? 'no such user')));
const driftRepair = fc
  .constantFrom(0, 1000, 60_000)
  .map((ms) => step(`drift repair(not pushed for ${ms} ms)`, () => true, (w) => w.markForResync(ms).then((n) => `${n} marked`)));
const otherWriter = fc
  .tuple(user, fc.constantFrom<Side[]>(['pc'], ['mobile'], ['pc', 'mobile']), otherVersion)
  .map(([u, sides, [name, v]]) =>
    step(`another writer sets(${USERS[u]} ${sides.join('+')} version ${name})`, () => true, async (w) => w.feishu.otherWriter(USERS[u], sides, v())),
  );

export const commandArbitraries: fc.Arbitrary<fc.AsyncCommand<ModelWorld, ModelWorld>>[] = [
  fc.oneof(
    ...kept('events', events, 6),
    ...kept('claim', claim, 6),
    ...kept('send', send, 6),
    ...kept('answer', answer, 6),
    ...kept('complete', complete, 5),
    ...kept('work', work, 6),
    ...kept('die', die, 2),
    ...kept('restart', restart, 1),
    ...kept('stop', stop, 1),
    ...kept('clock-jump', clockJump, 1),
    ...kept('time-passes', timePasses, 4),
    ...kept('resync', resync, 1),
    ...kept('drift-repair', driftRepair, 1),
    ...kept('other-writer', otherWriter, 1),
  ),
];
