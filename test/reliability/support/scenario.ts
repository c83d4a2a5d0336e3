import { Counts } from '@badges/contracts';
import { groupLag, kafka, OutMessage, readTopic } from '../../support/kafka';
import { httpReady } from '../../support/service';
import { HOSTILE_ID_HEADER, hostileMessages } from './hostile';
import { until } from '../../support/wait';
import { publish, Replica, restartKafka, restartPostgres, SEED, sleep, SOAK, Stack } from './stack';
import { Rng, rng, Traffic, TrafficUser, userKey } from './traffic';

export interface FaultContext {
  stack: Stack;
  rng: Rng;
  /** When the stream started (ms since epoch). */
  t0: number;
  count(kind: string, n?: number): void;
  /** Start-up measurements of restarted replicas, in the order of their restarts. */
  startups: Promise<Startup>[];
  /** Aborted once every badge converged: a start-up still awaiting its first push stops waiting. */
  settled: AbortSignal;
}

/**
 * One restart: from process start (just before the spawn) to its first answer on /health/live and to its first push
 * (its own badge_pushes_total above 0, any outcome), polled every 50 ms. Null when the process died first
 * (`endedBy: 'killed'`) or the scenario converged first.
 */
export interface Startup {
  replica: string;
  liveMs: number | null;
  firstPushMs: number | null;
  endedAfterMs: number;
  endedBy: 'measured' | 'killed' | 'converged';
}

export interface FaultStep {
  at: number;
  name: string;
  /** Steps of one lane run one after the other; lanes run side by side. */
  lane?: 'process' | 'feishu';
  run(ctx: FaultContext): Promise<void>;
}

export interface ScenarioSpec {
  name: string;
  replicas: number;
  partitions?: number;
  users: number;
  durationMs: number;
  tickMs?: number;
  hostile?: number;
  emulatorEnv?: Record<string, string>;
  serviceEnv?: Record<string, string>;
  schedule(ctx: FaultContext): FaultStep[];
  convergeTimeoutMs: number;
}

interface Tally {
  ok: number;
  total: number;
  bad: string[];
}
const tally = (): Tally => ({ ok: 0, total: 0, bad: [] });
const note = (t: Tally, ok: boolean, why: () => string) => {
  t.total++;
  if (ok) t.ok++;
  else if (t.bad.length < 10) t.bad.push(why());
};

export interface ScenarioResult {
  name: string;
  seed: number;
  events: number;
  duplicates: number;
  messages: number;
  produced: number;
  resends: number;
  users: number;
  sources: number;
  pushes: number;
  applied: number;
  faults: Record<string, number>;
  convergeAfterLastFaultMs: number | null;
  convergeAfterStreamMs: number;
  totalMs: number;
  setupMs: number;
  badges: Tally;
  unexpectedAtEmulator: string[];
  audit: Tally;
  sources_: Tally;
  code213004: number;
  conflicts: number;
  ambiguousInjected: number;
  peakConcurrentPerUser: number;
  maxAcceptedPerWindow: number;
  dlq?: { total: number; hostileSent: number; matched: number; withReason: number; foreign: number; valueMismatch: number; missing: string[] };
  crashes: string[];
  aliveAtEnd: number;
  replicas: number;
  startups: Startup[];
}

type SideView = { web_app: number; gadget: number } | null;
const sameSide = (a: Counts['pc'], b: SideView | undefined) => !!b && a.web_app === b.web_app && a.gadget === b.gadget;
const show = (x: unknown) => JSON.stringify(x);

/** Runs traffic and the fault schedule against a fresh stack, waits for convergence, checks through public doors. */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const started = Date.now();
  const seed = (SEED ^ hash(spec.name)) >>> 0;
  const settled = new AbortController();
  const stack = await Stack.start({
    name: spec.name,
    replicas: spec.replicas,
    partitions: spec.partitions ?? 6,
    emulatorEnv: spec.emulatorEnv,
    serviceEnv: spec.serviceEnv,
  });
  try {
    const setupMs = Date.now() - started;
    const r = rng(seed);
    const tickMs = spec.tickMs ?? 100;
    const traffic = new Traffic({ prefix: `${spec.name}${seed % 1000}`, users: spec.users, durationMs: spec.durationMs, tickMs, duplicateRate: 0.1, bursts: 3, seed });
    const hostile = spec.hostile ? hostileMessages(spec.hostile, r, spec.name) : [];
    traffic.mix(hostile);

    const faults: Record<string, number> = {};
    const ctx: FaultContext = { stack, rng: r, t0: Date.now(), count: (k, n = 1) => void (faults[k] = (faults[k] ?? 0) + n), startups: [], settled: settled.signal };
    let lastFaultAt: number | null = null;
    const steps = spec.schedule(ctx);
    const runLane = async (lane: FaultStep[]) => {
      for (const step of lane.sort((a, b) => a.at - b.at)) {
        await sleep(ctx.t0 + step.at - Date.now());
        await step.run(ctx);
        lastFaultAt = Date.now();
      }
    };
    const runFaults = async () => {
      const lanes = [...new Set(steps.map((x) => x.lane ?? 'process'))].map((l) => steps.filter((x) => (x.lane ?? 'process') === l));
      const done = await Promise.allSettled(lanes.map(runLane));
      for (const d of done) if (d.status === 'rejected') throw d.reason;
    };
    const [pub, sched] = await Promise.allSettled([publish(stack.topic, traffic.ticks(), tickMs), runFaults()]);
    if (pub.status === 'rejected') throw pub.reason;
    if (sched.status === 'rejected') throw sched.reason;
    const streamEndedAt = pub.value.endedAt;

    await until('every badge converged', () => converged(stack, traffic), spec.convergeTimeoutMs, 500, () => stack.crashes.length === 0);
    const convergedAt = Date.now();
    settled.abort();
    const startups = await Promise.all(ctx.startups);

    const result = await verify(stack, traffic);
    const stats = await stack.emulatorGet('/_emulator/stats');
    const codes: Record<string, number> = stats.codes?.['app_badge/set'] ?? {};
    const res: ScenarioResult = {
      name: spec.name,
      seed: SEED,
      events: traffic.events,
      duplicates: traffic.duplicates,
      messages: traffic.messages,
      produced: pub.value.sent,
      resends: pub.value.resends,
      users: traffic.users.length,
      sources: traffic.sourceCount(),
      pushes: stats.requests?.['app_badge/set'] ?? 0,
      applied: codes['0'] ?? 0,
      faults: { ...faults, ...injectedAtEmulator(stats) },
      convergeAfterLastFaultMs: lastFaultAt === null ? null : convergedAt - lastFaultAt,
      convergeAfterStreamMs: convergedAt - streamEndedAt,
      totalMs: 0,
      setupMs,
      ...result,
      code213004: codes['213004'] ?? 0,
      conflicts: (codes['213001'] ?? 0) + (codes['213002'] ?? 0),
      ambiguousInjected: stats.ambiguousInjected ?? 0,
      peakConcurrentPerUser: stats.concurrency?.peakConcurrentPerUser ?? 0,
      maxAcceptedPerWindow: Math.max(0, ...Object.values<number>(stats.rateLimit?.maxAcceptedPerWindow?.['app_badge/set'] ?? {})),
      dlq: hostile.length > 0 ? await checkDlq(stack, hostile) : undefined,
      crashes: [...stack.crashes],
      aliveAtEnd: stack.replicas.filter((x) => x.alive()).length,
      replicas: stack.replicas.length,
      startups,
    };
    res.totalMs = Date.now() - started;
    report(res);
    return res;
  } catch (e) {
    throw new Error(`${spec.name} (seed ${SEED}): ${(e as Error).message}\ncrashes: ${stack.crashes.join('\n') || 'none'}\n${stack.logTails(25)}`);
  } finally {
    settled.abort();
    await stack.stop();
  }
}

/** Throws the reason it is not yet converged: lag, dirty users, or badges at the emulator that differ. */
async function converged(stack: Stack, traffic: Traffic): Promise<boolean> {
  const lag = await groupLag(stack.topic, stack.groupId);
  if (lag > 0) throw new Error(`consumer lag ${lag}`);
  const { body: s } = await stack.audit('/v1/stats');
  if (s.dirty > 0 || s.users.pending + s.users.backing_off + s.users.parked > 0) throw new Error(`not in sync: ${show({ dirty: s.dirty, users: s.users })}`);
  const { items } = await stack.emulatorGet<{ items: any[] }>('/_emulator/badges?offset=0&limit=100000');
  const at = new Map(items.map((b) => [userKey(b), b]));
  let differ = 0;
  let example = '';
  for (const u of traffic.users) {
    const e = traffic.expected(u);
    const b = at.get(userKey(u));
    if (!b || !sameSide(e.pc, b.pc) || !sameSide(e.mobile, b.mobile)) {
      differ++;
      example ||= `${userKey(u)} expected ${show(e)} emulator ${show(b && { pc: b.pc, mobile: b.mobile })}`;
    }
  }
  if (differ > 0) throw new Error(`${differ} badges differ at the emulator, e.g. ${example}`);
  return true;
}

async function verify(stack: Stack, traffic: Traffic) {
  const badges = tally();
  const audit = tally();
  const sources = tally();
  const { items } = await stack.emulatorGet<{ items: any[] }>('/_emulator/badges?offset=0&limit=100000');
  const at = new Map(items.map((b) => [userKey(b), b]));
  const known = new Set(traffic.users.map(userKey));
  const unexpectedAtEmulator = [...at.keys()].filter((k) => !known.has(k)).slice(0, 10);
  for (const u of traffic.users) {
    const e = traffic.expected(u);
    const b = at.get(userKey(u));
    note(badges, !!b && sameSide(e.pc, b.pc) && sameSide(e.mobile, b.mobile), () => `${userKey(u)}: expected ${show(e)}, emulator ${show(b)}`);
  }
  await inParallel(traffic.users, 16, async (u: TrafficUser) => {
    const b = at.get(userKey(u));
    const { status, body } = await stack.audit(`/v1/badges/${encodeURIComponent(u.userId)}?userIdType=${u.userIdType}`);
    note(
      audit,
      status === 200 && body.inSync === true && sameSide(body.applied.pc, b?.pc) && sameSide(body.applied.mobile, b?.mobile),
      () => `${userKey(u)}: audit ${status} inSync=${body?.inSync} applied ${show(body?.applied)}, emulator ${show(b && { pc: b.pc, mobile: b.mobile })}`,
    );
    const seen = new Map<string, number>((status === 200 ? body.sources : []).map((s: { source: string; sequence: number }) => [s.source, s.sequence]));
    for (const [source, sequence] of traffic.highest(u)) {
      note(sources, seen.get(source) === sequence, () => `${userKey(u)} ${source}: generator ${sequence}, audit ${seen.get(source)}`);
    }
    if (seen.size !== traffic.highest(u).size) note(sources, false, () => `${userKey(u)}: audit has sources ${show([...seen.keys()])}`);
  });
  return { badges, unexpectedAtEmulator, audit, sources_: sources };
}

/** Every hostile message in the DLQ, with its reason; nothing else there. */
async function checkDlq(stack: Stack, hostile: OutMessage[]): Promise<NonNullable<ScenarioResult['dlq']>> {
  const dlq = `${stack.topic}.dlq`;
  const admin = kafka.admin();
  await admin.connect();
  let total = 0;
  try {
    for (const p of await admin.fetchTopicOffsets(dlq)) total += Number(p.high) - Number(p.low);
  } finally {
    await admin.disconnect();
  }
  const read = total > 0 ? await readTopic(dlq, total, 120_000) : [];
  const sent = new Map(hostile.map((m) => [m.headers![HOSTILE_ID_HEADER], m]));
  const matched = new Set<string>();
  let withReason = 0;
  let foreign = 0;
  let valueMismatch = 0;
  for (const m of read) {
    const id = m.headers[HOSTILE_ID_HEADER];
    const original = id === undefined ? undefined : sent.get(id);
    if (!original) {
      foreign++;
      continue;
    }
    matched.add(id);
    if ((m.headers['x-dlq-reason'] ?? '').length > 0) withReason++;
    const want = original.value === null ? null : Buffer.from(original.value);
    if (!(want === null ? m.value === null || m.value.length === 0 : m.value !== null && want.equals(m.value))) valueMismatch++;
  }
  const missing = [...sent.keys()].filter((id) => !matched.has(id));
  return { total, hostileSent: hostile.length, matched: matched.size, withReason, foreign, valueMismatch, missing: missing.slice(0, 20).map((id) => `${id} (${sent.get(id)!.headers!['x-hostile-kind']})`) };
}

function injectedAtEmulator(stats: any): Record<string, number> {
  const f = stats.faultsInjected ?? {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries<number>({ http5xx: f.http5xx, ambiguous: f.ambiguous, outage503: f.outage, storm429: f.rateLimitStorm, delayed: f.delayed })) if (v) out[k] = v;
  const expired = stats.tokens?.tenantTokensIssued;
  if (expired > 1) out.tokensIssued = expired;
  return out;
}

function report(r: ScenarioResult): void {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const t = (x: Tally) => `${x.ok}/${x.total}`;
  const line =
    `[reliability${SOAK ? ' soak' : ''}] ${r.name}: seed=${r.seed} events=${r.events} (+${r.duplicates} dup, ${r.dlq?.hostileSent ?? 0} hostile, ${r.produced} sent, ${r.resends} resends) ` +
    `users=${r.users} sources=${r.sources} replicas=${r.replicas} pushes=${r.pushes} (applied ${r.applied}) faults=${show(r.faults)} ` +
    `converged ${r.convergeAfterLastFaultMs === null ? 'with no scheduled fault' : `${s(r.convergeAfterLastFaultMs)} after the last fault`} (${s(r.convergeAfterStreamMs)} after the stream) total ${s(r.totalMs)} (setup ${s(r.setupMs)}); ` +
    `checks: badges ${t(r.badges)}, audit ${t(r.audit)}, sources ${t(r.sources_)}, 213004=${r.code213004}, conflicts=${r.conflicts} (<= ${2 * r.ambiguousInjected}), ` +
    `peak/user=${r.peakConcurrentPerUser}, max/s=${r.maxAcceptedPerWindow}` +
    (r.dlq ? `, dlq ${r.dlq.total} (${r.dlq.matched}/${r.dlq.hostileSent} hostile, ${r.dlq.withReason} with x-dlq-reason, ${r.dlq.foreign} foreign)` : '') +
    `, crashes=${r.crashes.length}, alive ${r.aliveAtEnd}/${r.replicas}` +
    (r.startups.length > 0 ? `; restarts: ${startupSummary(r.startups)}` : '') +
    `\n`;
  process.stdout.write(line);
  if (SOAK) process.stdout.write(`[reliability soak json] ${JSON.stringify(r)}\n`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median and max of the restarts' time to /health/live and to the first push, over those measured. */
export function startupFigures(xs: readonly Startup[]) {
  const live = xs.flatMap((x) => (x.liveMs === null ? [] : [x.liveMs]));
  const push = xs.flatMap((x) => (x.firstPushMs === null ? [] : [x.firstPushMs]));
  return {
    restarts: xs.length,
    /** Killed again before its first push: time to live and to first push unknown beyond endedAfterMs. */
    cutShort: xs.filter((x) => x.endedBy === 'killed').map((x) => ({ liveMs: x.liveMs, killedAfterMs: x.endedAfterMs })),
    live: { measured: live.length, medianMs: median(live), maxMs: Math.max(...live) },
    firstPush: { measured: push.length, medianMs: median(push), maxMs: Math.max(...push) },
  };
}

function startupSummary(xs: readonly Startup[]): string {
  const f = startupFigures(xs);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
  return `${f.restarts}, to live median ${s(f.live.medianMs)} max ${s(f.live.maxMs)} (${f.live.measured}/${f.restarts}), ` +
    `to first push median ${s(f.firstPush.medianMs)} max ${s(f.firstPush.maxMs)} (${f.firstPush.measured}/${f.restarts}); ` +
    `each [live, push, ended]: ${xs.map((x) => `[${x.liveMs ?? '-'}, ${x.firstPushMs ?? '-'}, ${x.endedBy}@${x.endedAfterMs}]`).join(' ')}`;
}

/** The assertions every scenario makes. */
export function expectConverged(r: ScenarioResult): void {
  expect(r.crashes).toEqual([]);
  expect(r.aliveAtEnd).toBe(r.replicas);
  expect(r.badges.bad).toEqual([]);
  expect(r.badges.ok).toBe(r.users);
  expect(r.unexpectedAtEmulator).toEqual([]);
  expect(r.audit.bad).toEqual([]);
  expect(r.audit.ok).toBe(r.users);
  expect(r.sources_.bad).toEqual([]);
  expect(r.sources_.ok).toBe(r.sources);
  expect(r.code213004).toBe(0);
  expect(r.conflicts).toBeLessThanOrEqual(2 * r.ambiguousInjected);
  expect(r.produced).toBeGreaterThanOrEqual(r.messages);
}

async function inParallel<T>(xs: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < xs.length) await f(xs[i++]);
  }));
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ---- fault steps ----

/**
 * SIGKILL a random replica (perhaps one still starting after an earlier kill) and start it again at once, without
 * waiting for it: the convergence check (and any crash detection) covers it.
 */
export const sigkill = (at: number): FaultStep => killStep(at, (ctx) => ctx.rng.pick(ctx.stack.replicas));

/** Like sigkill, but the i-th kill takes the replicas in turn. */
export const sigkillInTurn = (at: number, i: number): FaultStep => killStep(at, (ctx) => ctx.stack.replicas[i % ctx.stack.replicas.length]);

const killStep = (at: number, pick: (ctx: FaultContext) => Replica): FaultStep => ({
  at,
  name: 'sigkill',
  async run(ctx) {
    const victim = pick(ctx);
    await victim.kill('SIGKILL');
    ctx.count('sigkill');
    const t0 = Date.now();
    await victim.start();
    ctx.startups.push(watchStartup(victim, t0, ctx.settled));
  },
});

async function watchStartup(rep: Replica, t0: number, settled: AbortSignal): Promise<Startup> {
  const proc = rep.proc!;
  const url = rep.url;
  const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
  const r: Startup = { replica: rep.name, liveMs: null, firstPushMs: null, endedAfterMs: 0, endedBy: 'measured' };
  while (r.firstPushMs === null && alive() && !settled.aborted) {
    if (r.liveMs === null) {
      if (await httpReady(`${url}/health/live`)) r.liveMs = Date.now() - t0;
    } else if ((await pushesAt(url)) > 0) {
      r.firstPushMs = Date.now() - t0;
    }
    if (r.firstPushMs === null) await sleep(50);
  }
  r.endedAfterMs = Date.now() - t0;
  if (r.firstPushMs === null) r.endedBy = alive() ? 'converged' : 'killed';
  return r;
}

/** The process's own count of app_badge/set calls answered, from its /metrics. */
async function pushesAt(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith('badge_pushes_total')).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  } catch {
    return 0;
  }
}

/** Infrastructure goes away only once every replica is up: none is ever started while the broker or Postgres is. */
const everyReplicaLive = (ctx: FaultContext) => Promise.all(ctx.stack.replicas.map((x) => x.waitLive()));

/** A random moment in [from, to), at least `gap` after the previous one. */
export function moments(r: Rng, n: number, from: number, to: number, gap: number): number[] {
  const span = Math.max(0, to - from - (n - 1) * gap);
  const xs = Array.from({ length: n }, () => r.next() * span).sort((a, b) => a - b);
  return xs.map((x, i) => Math.round(from + x + i * gap));
}

export const kafkaRestart = (at: number): FaultStep => ({
  at,
  name: 'kafka-restart',
  async run(ctx) {
    await everyReplicaLive(ctx);
    const { downMs } = await restartKafka();
    ctx.count('kafkaRestart');
    ctx.count('kafkaDownMs', downMs);
  },
});

export const postgresRestart = (at: number): FaultStep => ({
  at,
  name: 'postgres-restart',
  async run(ctx) {
    await everyReplicaLive(ctx);
    const { downMs } = await restartPostgres();
    ctx.count('postgresRestart');
    ctx.count('postgresDownMs', downMs);
  },
});

/** Sets emulator faults for a while, then puts back what was there. */
export const emulatorFault = (at: number, name: string, patch: Record<string, unknown>, seconds: number, undo: Record<string, unknown>): FaultStep => ({
  at,
  name,
  lane: 'feishu',
  async run(ctx) {
    await ctx.stack.emulatorPost('/_emulator/faults', patch);
    ctx.count(name);
    await sleep(seconds * 1000);
    await ctx.stack.emulatorPost('/_emulator/faults', undo);
  },
});

export const outage = (at: number, seconds: number) => emulatorFault(at, 'outage', { outage: true }, seconds, { outage: false });
export const latencySpike = (at: number, ms: number, jitterMs: number, seconds: number) =>
  emulatorFault(at, 'latencySpike', { latencyMs: ms, latencyJitterMs: jitterMs }, seconds, { latencyMs: 0, latencyJitterMs: 0 });
export const storm429 = (at: number, seconds: number, resetSeconds: number) =>
  emulatorFault(at, 'storm429', { rateLimitStorm: { seconds, resetSeconds } }, seconds, { rateLimitStorm: false });

/** Restarts every replica in turn (SIGTERM, wait for exit, start, wait ready), under load. */
export const rollingRestart = (at: number): FaultStep => ({
  at,
  name: 'rolling-restart',
  async run(ctx) {
    await everyReplicaLive(ctx);
    for (const rep of ctx.stack.replicas) await restartGracefully(rep, ctx);
  },
});

async function restartGracefully(rep: Replica, ctx: FaultContext): Promise<void> {
  const t = Date.now();
  await rep.kill('SIGTERM');
  ctx.count('gracefulStopMs', Date.now() - t);
  ctx.count('rollingRestart');
  await rep.start();
  await rep.waitReady();
}

/** Feishu misbehaving the whole run: 10% 5xx, 5% ambiguous (applied, answered 500), tokens living 3 s. */
export const FEISHU_NOISE: Record<string, string> = {
  EMULATOR_FAULT_5XX_RATE: '0.1',
  EMULATOR_FAULT_AMBIGUOUS_RATE: '0.05',
  EMULATOR_TOKEN_TTL_SECONDS: '3',
};

export { SOAK };
