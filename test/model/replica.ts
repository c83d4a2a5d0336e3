import type { AppConfig } from '@badges/config';
import type { Claim, ClaimedUser, Completion, ReconcileRepository, SlotGrid } from '@badges/store';
import type { DataSource } from 'typeorm';
import { FeishuBadgeClient, type SetAppBadgeResult } from '@badges/feishu';
import { decide, DecisionPolicy, deferred, noop } from '../../apps/badge-service/src/reconcile/push-decision';
import { planPush, PushPlan } from '../../apps/badge-service/src/reconcile/push-plan';
import { RECONCILE } from '../../apps/badge-service/src/reconcile/reconcile.constants';
import { slotGrid } from '../../apps/badge-service/src/reconcile/slot-grid';
import { Fault, FeishuModel, InFlight } from './feishu.model';

/** Simulated time, shared by every replica: advanced only by the test (see ModelWorld.timePasses). */
export interface VirtualTime {
  readonly elapsedMs: number;
}

export const SLOT_PASSED = 'not sent: its push slot had passed';

interface Item {
  user: ClaimedUser;
  slotAt: number;
  state: 'claimed' | 'sending' | 'decided';
  plan?: PushPlan;
  inFlight?: InFlight;
  result?: Promise<SetAppBadgeResult>;
  completion?: Completion;
}

interface Batch {
  items: Item[];
  /** Database clock at the claim, and the virtual time then: the replica's clock is read relative to these. */
  dbNowAtClaim: number;
  elapsedAtClaim: number;
}

export interface SentPush {
  owner: string;
  userId: string;
  version: string;
}

/**
 * One reconciler replica, stepped by the test: the steps ReconcileLoop takes (claim, plan, slot check, send,
 * decide, complete), through the real repository, the real FeishuBadgeClient (over the model's transport) and
 * the real planPush/decide/deferred/noop. Its clock is the database clock at the claim, plus the virtual time
 * passed since, plus its own offset: real time spent between test steps does not count, so runs replay exactly.
 */
export class Replica {
  owner: string;
  alive = true;
  offsetMs = 0;
  private generation = 0;
  private batches: Batch[] = [];
  /** Virtual time (own clock frame) until which this replica sends nothing, after a 429. */
  private pausedUntil = 0;
  private readonly client: FeishuBadgeClient;
  private readonly policy: DecisionPolicy;
  private readonly grid: SlotGrid;
  /** Pushes deferred as "slot passed", counted while `countingSlotsMissed`. */
  slotsMissed = 0;
  countingSlotsMissed = false;

  constructor(
    readonly name: string,
    private readonly config: AppConfig,
    private readonly repository: ReconcileRepository,
    private readonly ds: DataSource,
    private readonly feishu: FeishuModel,
    private readonly time: VirtualTime,
    private readonly onCompleted: (sent: SentPush[]) => Promise<void>,
  ) {
    this.owner = `${name}.0`;
    const r = config.reconcile;
    this.policy = { minIntervalMs: r.minIntervalMs, conflictRetryMs: r.conflictRetryMs, backoffBaseMs: r.backoffBaseMs, backoffMaxMs: r.backoffMaxMs };
    this.grid = slotGrid(config.feishu.rateLimit);
    const tokens = { getToken: async () => 'model-token', invalidate: () => undefined };
    this.client = new FeishuBadgeClient(this.feishu.transport(() => this.owner), tokens, { baseUrl: 'http://feishu.model' });
  }

  /** The replica's process clock while it works on `b`. */
  private now(b: Batch): number {
    return b.dbNowAtClaim + (this.time.elapsedMs - b.elapsedAtClaim) + this.offsetMs;
  }

  private pauseClock(): number {
    return this.time.elapsedMs + this.offsetMs;
  }

  held(): { userId: string; state: Item['state'] }[] {
    return this.batches.flatMap((b) => b.items.map((i) => ({ userId: i.user.userId, state: i.state })));
  }

  count(state: Item['state']): number {
    return this.batches.reduce((n, b) => n + b.items.filter((i) => i.state === state).length, 0);
  }

  private nth(state: Item['state'], k: number): { b: Batch; i: Item } | null {
    const all = this.batches.flatMap((b) => b.items.filter((i) => i.state === state).map((i) => ({ b, i })));
    return all.length === 0 ? null : all[k % all.length];
  }

  /** ReconcileLoop.tick for the custom app's one scope. */
  async claim(): Promise<number> {
    const capacity = this.config.reconcile.concurrency - this.held().length;
    if (capacity <= 0) return 0;
    await this.repository.ensureBudget('');
    const [{ now_ms }] = await this.ds.query(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`);
    // mirrors ReconcileLoop.tick: the claim's options
    const claim: Claim = await this.repository.claim({
      scope: '',
      tenantFilter: null,
      owner: this.owner,
      limit: Math.min(this.config.reconcile.batchSize, capacity),
      leaseMs: this.config.reconcile.leaseMs,
      ...this.grid,
      horizonMs: RECONCILE.slotHorizonMs,
      leadMs: RECONCILE.slotLeadMs,
      // The replica's clock during the claim: slots and waits come back in it, as ReconcileLoop passes its Clock.
      now: () => now_ms + this.offsetMs,
    });
    // end of mirrored code
    if (claim.users.length === 0) return 0;
    this.batches.push({
      items: claim.users.map((user, i) => ({ user, slotAt: claim.firstSlotAt + i * claim.spacingMs, state: 'claimed' })),
      dbNowAtClaim: now_ms,
      elapsedAtClaim: this.time.elapsedMs,
    });
    return claim.users.length;
  }

  /** ReconcileLoop.pushOne up to the call: plan, wait for the slot, pause and lateness checks, send. */
  async send(k: number): Promise<string> {
    const found = this.nth('claimed', k);
    if (!found) return 'nothing claimed';
    const { b, i } = found;
    const u = i.user;
    // mirrors ReconcileLoop.pushOne: from planPush to the lateness check
    const plan = planPush(u.desired, u.applied, u.forceFull);
    if (plan === null) return this.decided(i, noop(u));
    let now = this.now(b);
    if (i.slotAt - now > 1) now = i.slotAt; // clock.sleep(wait): the timer fires on time, the world waits
    const paused = this.pausedUntil - this.pauseClock();
    if (paused > 0) return this.decided(i, deferred(u, paused));
    if (now - i.slotAt > RECONCILE.maxSlotLatenessMs) {
      if (this.countingSlotsMissed) this.slotsMissed++;
      return this.decided(i, deferred(u, 0, SLOT_PASSED), `late by ${Math.round(now - i.slotAt)} ms`);
    }
    // end of mirrored code. The loop checks the slot again, with its send window, once the token is in hand
    // (beforeSend); here tokens take no virtual time, so that check would say what this one did.
    const arrival = this.feishu.nextArrival(this.owner);
    i.plan = plan;
    i.result = this.client.setAppBadge({ tenantKey: u.tenantKey, userId: u.userId, userIdType: u.userIdType, version: u.version, ...plan });
    i.inFlight = await arrival;
    i.state = 'sending';
    if (i.inFlight.answered) await this.settle(i);
    return `sent v${u.version} ${JSON.stringify(plan)}`;
  }

  private decided(i: Item, c: Completion, why?: string): string {
    i.completion = c;
    i.state = 'decided';
    return `${c.outcome}${why ? ` (${why})` : ''}`;
  }

  /** Feishu answers the k-th push in flight. */
  async answer(k: number, fault: Fault): Promise<string> {
    const found = this.nth('sending', k);
    if (!found) return 'nothing in flight';
    this.feishu.answer(found.i.inFlight!, fault);
    return this.settle(found.i);
  }

  /** Every push in flight ends (a client timeout has passed). */
  async answerAll(fault: Fault): Promise<string[]> {
    const notes: string[] = [];
    for (let found = this.nth('sending', 0); found; found = this.nth('sending', 0)) {
      this.feishu.answer(found.i.inFlight!, fault);
      notes.push(await this.settle(found.i));
    }
    return notes;
  }

  private async settle(i: Item): Promise<string> {
    const r = await i.result!;
    // mirrors ReconcileLoop.pushOne: the 429 pause
    if (r.outcome === 'rate_limited') {
      const ms = r.retryAfterMs ?? 1000;
      this.pausedUntil = Math.max(this.pausedUntil, this.pauseClock() + ms);
      await this.repository.pause('', ms);
    }
    // end of mirrored code
    const c = decide(i.user, i.plan!, r, this.policy, () => 0.5);
    return this.decided(i, c, `${r.outcome}${r.code !== null ? ` ${r.code}` : ''}${r.latestVersion ? ` latest ${r.latestVersion}` : ''}`);
  }

  hasDecidedBatch(): boolean {
    return this.batches.some((b) => b.items.every((i) => i.state === 'decided'));
  }

  /** ReconcileLoop.pushBatch's end: completes the first batch whose every push is decided. */
  async complete(): Promise<string> {
    const idx = this.batches.findIndex((b) => b.items.every((i) => i.state === 'decided'));
    if (idx < 0) return 'no batch decided';
    const [b] = this.batches.splice(idx, 1);
    const cs = b.items.map((i) => i.completion!);
    const written = await this.repository.complete(this.owner, cs);
    const sent = b.items.filter((i) => i.plan !== undefined).map((i) => ({ owner: this.owner, userId: i.user.userId, version: i.user.version }));
    await this.onCompleted(sent);
    return `${written.length}/${cs.length} written`;
  }

  async completeAll(): Promise<void> {
    while (this.hasDecidedBatch()) await this.complete();
  }

  /** One whole loop iteration: claim, send what was claimed, Feishu answers every push with `fault`, complete
   * (or the process dies just before completing). */
  async work(fault: Fault, crash = false): Promise<string[]> {
    const notes = [`${await this.claim()} claimed`];
    while (this.count('claimed') > 0) notes.push(await this.send(0));
    notes.push(...(await this.answerAll(fault)));
    if (crash) {
      this.die('timeout-lost');
      return [...notes, 'died'];
    }
    while (this.hasDecidedBatch()) notes.push(await this.complete());
    return notes;
  }

  /** The process dies: what it held in memory is gone, its leases stay until they expire. Feishu still ends the
   * requests it was processing, with `fault` ('timeout-applied' or 'timeout-lost'): nobody reads the answers. */
  die(fault: Fault): void {
    for (const b of this.batches) for (const i of b.items) if (i.state === 'sending') this.feishu.answer(i.inFlight!, fault);
    this.alive = false;
    this.batches = [];
    this.pausedUntil = 0;
  }

  /** A new process takes the replica's place, with a new owner id. */
  restart(fresh = false): void {
    if (fresh) this.generation = -1;
    this.alive = true;
    this.batches = [];
    this.pausedUntil = 0;
    this.owner = `${this.name}.${++this.generation}`;
  }

  /** A graceful stop is modelled only when no batch has a push sent but not completed. */
  canStop(): boolean {
    return this.batches.every((b) => b.items.every((i) => i.state === 'decided') || b.items.every((i) => i.plan === undefined));
  }

  /** Graceful stop: completes what is decided, drops what was not sent, gives back its leases. */
  async stop(): Promise<number> {
    await this.completeAll();
    this.batches = [];
    const released = await this.repository.releaseLeases(this.owner);
    this.restart();
    return released;
  }
}
