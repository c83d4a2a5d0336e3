import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AppConfig } from '@badges/config';
import { ConfigService } from '@nestjs/config';
import { BadgeSender } from '@badges/feishu';
import { Claim, ClaimedUser, Completion, ModeRepository, ReconcileRepository, type SlotGrid } from '@badges/store';
import { Clock } from '../common/clock';
import { PeriodicTask } from '../common/periodic-task';
import { backoffMs, retry } from '../common/retry';
import { ReadinessRegistry } from '../health/readiness.registry';
import { Metrics } from '../metrics/metrics.service';
import { DirtyListener } from './dirty.listener';
import { decide, DecisionPolicy, deferred, noop } from './push-decision';
import { planPush } from './push-plan';
import { ClockOffset } from './clock-offset';
import { SendTicket, SendWindow, SlotRun } from './send-window';
import { RECONCILE } from './reconcile.constants';
import { slotGrid } from './slot-grid';

const WAKE = 'wake';

/**
 * Level-triggered controller: claims due dirty users (leased, versioned, within the shared budget), pushes the
 * differing sides at their reserved slots, and writes each outcome back fenced by lease and version. Holds no
 * transaction across a Feishu call; any number of replicas can run it.
 */
@Injectable()
export class ReconcileLoop implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly log = new Logger(ReconcileLoop.name);
  private readonly policy: DecisionPolicy;
  private readonly grid: SlotGrid;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private inflight = 0;
  private readonly batches = new Set<Promise<void>>();
  private wake = new AbortController();
  /** Monotonic, as every instant the loop plans by: a step of the wall clock neither stalls nor hurries it. */
  private lastTickAt = 0;
  private readonly budgets = new Set<string>();
  /** Per quota scope: the real send times of this replica's last FEISHU_RATE_LIMIT pushes (monotonic clock). */
  private readonly sendWindows = new Map<string, SendWindow>();
  /** Per quota scope: the stretch of the shared slot grid this replica holds alone (the database's clock). */
  private readonly slotRuns = new Map<string, SlotRun>();
  /** Per quota scope: after a 429, nothing this replica has in flight is sent before this time (monotonic). */
  private readonly pausedUntil = new Map<string, number>();
  private readonly gauges = new PeriodicTask({
    name: 'dirty gauges',
    run: () => this.updateGauges(),
    firstDelayMs: () => RECONCILE.gaugeIntervalMs,
    nextDelayMs: () => RECONCILE.gaugeIntervalMs,
    log: this.log,
  });
  /** The database's clock minus ours (stored times and push slots are in the database's clock). */
  private readonly dbClock: ClockOffset;
  /** Store apps: the tenant served last, so the next tick starts after it (round robin over tenants). */
  private scopeCursor: string | null = null;
  /** Whether the database has been put in this replica's FEISHU_MODE (ModeRepository.enter), done before any claim. */
  private modeEntered = false;

  /** Read once; `Pick` keeps `this.config.reconcile.*` at the many places that read it. */
  private readonly config: Pick<AppConfig, 'reconcile' | 'feishu' | 'hardening'>;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly repository: ReconcileRepository,
    private readonly modes: ModeRepository,
    private readonly feishu: BadgeSender,
    private readonly listener: DirtyListener,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    readiness: ReadinessRegistry,
  ) {
    this.config = { reconcile: config.get('reconcile', { infer: true }), feishu: config.get('feishu', { infer: true }), hardening: config.get('hardening', { infer: true }) };
    const r = this.config.reconcile;
    this.policy = { minIntervalMs: r.minIntervalMs, conflictRetryMs: r.conflictRetryMs, backoffBaseMs: r.backoffBaseMs, backoffMaxMs: r.backoffMaxMs };
    this.grid = slotGrid(this.config.feishu.rateLimit);
    this.dbClock = new ClockOffset(clock);
    readiness.register('reconcile', () => {
      const age = this.clock.monotonic() - this.lastTickAt;
      return { ok: this.running && age < Math.max(3 * r.pollMs, RECONCILE.readyTickAgeMs), detail: { lastTickAgeMs: age, inflight: this.inflight } };
    });
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loopDone = this.run();
    this.listener.start(() => this.poke());
    this.gauges.start();
  }

  /** Stop claiming, let pushes in flight finish within the lease, then give back what is left. */
  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.poke();
    await Promise.all([this.loopDone, this.gauges.stop()]);
    // Within the shutdown grace, less a reserve for giving the leases back and closing: a push still in flight then
    // has its lease released, which leaves its sides unknown, and its late completion is fenced off.
    const grace = this.config.hardening.shutdownGraceMs;
    const waitMs = Math.min(this.config.reconcile.leaseMs, grace - Math.min(5000, grace / 2));
    const deadline = new Promise((r) => setTimeout(r, waitMs).unref());
    await Promise.race([Promise.all([...this.batches]), deadline]);
    const released = await this.repository.releaseLeases(this.owner).catch(() => 0);
    if (released > 0) this.log.log({ released }, 'leases released at shutdown');
  }

  poke(): void {
    // Once per sleep: a push ending is a poke, and abort() without a reason builds a DOMException each time.
    if (!this.wake.signal.aborted) this.wake.abort(WAKE);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.lastTickAt = this.clock.monotonic();
      let sleepUntil = this.lastTickAt + this.config.reconcile.pollMs;
      try {
        const r = await this.tick();
        failures = 0;
        if (r.claimed > 0 && this.config.reconcile.concurrency - this.inflight >= this.claimStep()) continue;
        // wakeAt is on the wall clock, read just now: to the monotonic one.
        if (r.wakeAt !== null) sleepUntil = Math.min(sleepUntil, this.clock.monotonic() + Math.max(r.wakeAt - this.clock.now(), RECONCILE.minSleepMs));
      } catch (e) {
        this.log.error({ err: e }, 'reconcile tick failed');
        sleepUntil = this.clock.monotonic() + backoffMs(failures++, 200, 5000, () => this.clock.random());
      }
      // Too few free places for a claim: the next push to end wakes the loop (release) once there are enough.
      if (this.config.reconcile.concurrency - this.inflight < this.claimStep()) sleepUntil = this.clock.monotonic() + this.config.reconcile.pollMs;
      await this.sleepUntil(sleepUntil);
    }
  }

  private async tick(): Promise<{ claimed: number; wakeAt: number | null }> {
    if (!this.modeEntered) await this.enterMode();
    const store = this.config.feishu.appType === 'store';
    // Store apps: each tenant has its own quota at Feishu, so every tenant with due work gets its turn and a fair
    // share of this replica's capacity; one tenant's backlog never hides the others.
    const scopes = store ? await this.repository.dueScopes(RECONCILE.maxScopesPerTick, this.scopeCursor) : [''];
    const share = Math.max(1, Math.floor((this.config.reconcile.concurrency - this.inflight) / Math.max(1, scopes.length)));
    let claimed = 0;
    let wakeAt: number | null = null;
    for (const scope of scopes) {
      const capacity = this.config.reconcile.concurrency - this.inflight;
      if (capacity <= 0) break;
      if (!this.budgets.has(scope)) {
        await this.repository.ensureBudget(scope);
        this.budgets.add(scope);
      }
      // The lease is measured from before the claim on the monotonic clock: a step of the wall clock cannot
      // stretch a push past it.
      const claimedAtMono = this.clock.monotonic();
      const wallMinusMono = this.clock.now() - claimedAtMono;
      const claim = await this.repository.claim({
        scope,
        tenantFilter: store ? scope : null,
        owner: this.owner,
        limit: Math.min(this.config.reconcile.batchSize, capacity, share),
        leaseMs: this.config.reconcile.leaseMs,
        ...this.grid,
        horizonMs: RECONCILE.slotHorizonMs,
        bulkHorizonMs: RECONCILE.bulkHorizonMs,
        leadMs: RECONCILE.slotLeadMs,
        now: () => this.clock.now(),
        mode: this.config.feishu.mode,
      });
      // A sample whose local readings straddle a step of the wall clock says nothing about the offset.
      if (Math.abs(this.clock.now() - this.clock.monotonic() - wallMinusMono) <= 1) this.dbClock.sample(claim.clockOffsetMs, claim.clockRttMs);
      if (store) this.scopeCursor = scope;
      if (claim.users.length > 0) {
        claimed += claim.users.length;
        this.slotRun(scope).claimed(claim.db.firstSlotAt, claim.users.length, claim.spacingMs, !claim.shared);
        this.launch(claim, scope, claimedAtMono);
      } else if (claim.db.budgetFreeAt !== null) {
        wakeAt = Math.min(wakeAt ?? Infinity, this.dbClock.toLocal(claim.db.budgetFreeAt));
      }
    }
    if (claimed === 0) {
      // Work already due but held back for budget slots wakes at budgetFreeAt, not at once.
      const due = await this.repository.earliestDue(this.dbClock.offsetMs);
      if (due !== null && (wakeAt === null || due > this.clock.now())) wakeAt = Math.min(wakeAt ?? Infinity, due);
    }
    return { claimed, wakeAt };
  }

  /**
   * Puts the database in this replica's mode before its first claim. Shadow to live resets every user for one
   * full push; a replica still running in the other mode then claims nothing (each claim checks the mode).
   */
  private async enterMode(): Promise<void> {
    const mode = this.config.feishu.mode;
    const { was, reset } = await this.modes.enter(mode);
    this.modeEntered = true;
    if (was !== mode) {
      this.log.warn({ was, mode, usersReset: reset }, 'FEISHU_MODE changed for the whole deployment: replicas still in the old mode claim nothing');
    }
    if (mode === 'shadow') this.log.warn('FEISHU_MODE=shadow: nothing is sent to Feishu; would-be pushes are recorded with outcome shadow');
  }

  private launch(claim: Claim, scope: string, claimedAtMono: number): void {
    const n = claim.users.length;
    this.inflight += n;
    // Each push gives its place back as soon as its answer is in (its result is then written in a group), rather
    // than when the slowest push of the claim ends: one slow answer no longer holds the other places of its claim.
    let held = n;
    const release = () => {
      held--;
      this.inflight--;
      // A claim's worth free: claim again now rather than one place at a time (each claim locks the budget row).
      if (this.config.reconcile.concurrency - this.inflight >= this.claimStep()) this.poke();
    };
    const p: Promise<void> = this.pushBatch(claim, scope, claimedAtMono, release)
      .catch((e) => this.log.error({ err: e }, 'push batch failed'))
      .finally(() => {
        this.inflight -= held;
        this.batches.delete(p);
        this.poke();
      });
    this.batches.add(p);
  }

  /** Free places worth a claim: a full batch, or a quarter of the concurrency when that is smaller. */
  private claimStep(): number {
    const r = this.config.reconcile;
    return Math.max(1, Math.min(r.batchSize, Math.floor(r.concurrency / 4)));
  }

  /**
   * Every push of the claim, each at its slot. No push outlives its lease: every step of it (token requests, the
   * request, a retry) ends by the lease's expiry less the time kept for recording the results.
   */
  private async pushBatch(claim: Claim, scope: string, claimedAtMono: number, release: () => void): Promise<void> {
    const leaseMs = this.config.reconcile.leaseMs;
    // On the monotonic clock (Clock.monotonic), as the Feishu client checks it.
    const deadlineAt = claimedAtMono + leaseMs - Math.min(RECONCILE.completionReserveMs, leaseMs / 4);
    // Results are written as they come, in small groups, rather than when the slowest push of the claim ends: a
    // finished push is recorded well inside its lease, and the user can come due again at once.
    const pending: Completion[] = [];
    const written: Promise<void>[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const group = pending.splice(0);
      if (group.length > 0) written.push(this.complete(group)); // groups hold different users: no order needed
    };
    await Promise.all(
      claim.users.map(async (u, i) => {
        pending.push(await this.pushOne(u, claim.db.firstSlotAt + i * claim.spacingMs, scope, deadlineAt));
        release();
        if (pending.length >= RECONCILE.completionGroupMax) flush();
        else timer ??= setTimeout(flush, RECONCILE.completionGroupMs);
      }),
    );
    flush();
    await Promise.all(written);
  }

  /** `slotAt` on the database's clock, as the grid is: a step of this replica's wall clock does not move it. */
  private async pushOne(u: ClaimedUser, slotAt: number, scope: string, deadlineAt: number): Promise<Completion> {
    if (u.leaseTakenOver) this.metrics.leasesTakenOver.inc();
    const plan = planPush(u.desired, u.applied, u.forceFull);
    if (plan === null) return noop(u);
    const wait = slotAt - this.nowDb();
    if (wait > 1) await this.clock.sleep(wait);
    // A paused scope or a passed slot is known before any token is asked for (a failing token request must not
    // turn it into an auth failure), and is checked again, with the send window, once the token is in hand
    // (beforeSend): a token request (a store tenant's first push, a refused token) that runs past the slot gives the
    // slot up like any late push, rather than sending late into a window another replica's pushes may fill.
    const early = this.mayPush(scope, slotAt, deadlineAt);
    if (early !== null) return early(u);
    const tickets: SendTicket[] = [];
    const held: { verdict: ((u: ClaimedUser) => Completion) | null } = { verdict: null };
    const r = await this.feishu
      .setAppBadge(
        { tenantKey: u.tenantKey, userId: u.userId, userIdType: u.userIdType, version: u.version, ...plan },
        {
          deadlineAt,
          beforeSend: async () => (held.verdict = await this.takeSend(scope, slotAt, deadlineAt, tickets)) === null,
          beforeRetry: () => this.slotForRetry(scope, deadlineAt, tickets),
        },
      )
      .finally(() => {
        const at = this.clock.monotonic();
        for (const t of tickets) this.sendWindow(scope).answered(t, at);
      });
    if (r.held && held.verdict !== null) return held.verdict(u);
    this.metrics.pushes.inc({ outcome: r.outcome, code: String(r.code ?? r.httpStatus ?? 'none') });
    this.metrics.pushSeconds.observe(r.latencyMs / 1000);
    if (r.tokenRefreshed) this.metrics.tokenRefreshes.inc();
    if (r.outcome === 'applied') this.metrics.eventToAppliedSeconds.observe(Math.max(0, this.clock.now() + this.dbClock.offsetMs - u.desiredChangedAt.getTime()) / 1000);
    if (r.outcome === 'rate_limited') {
      const ms = r.retryAfterMs ?? 1000;
      // Every push this replica has reserved for the scope waits; other replicas see the pause in Postgres at
      // their next claim, and learn it from their own first 429 for what they already hold.
      this.pausedUntil.set(scope, Math.max(this.pausedUntil.get(scope) ?? 0, this.clock.monotonic() + ms));
      this.metrics.rateLimitPauses.inc();
      this.log.warn({ scope, pauseMs: ms, logId: r.logId }, 'Feishu rate limit: pausing every replica');
      await this.repository.pause(scope, ms).catch((e) => this.log.error({ err: e }, 'could not record the pause'));
    }
    const c = decide(u, plan, r, this.policy, () => this.clock.random());
    if (c.kind === 'park') this.metrics.usersParked.inc();
    if (r.outcome !== 'applied') {
      this.log.warn({ userId: u.userId, version: u.version, outcome: r.outcome, code: r.code, httpStatus: r.httpStatus, logId: r.logId }, 'push not applied');
    }
    return c;
  }

  /**
   * Waits until the scope's SendWindow lets one more push leave, then takes its place (nothing is awaited between
   * that and the send); or says how the push is put back when it may not leave.
   */
  private async takeSend(scope: string, slotAt: number, deadlineAt: number, tickets: SendTicket[]): Promise<((u: ClaimedUser) => Completion) | null> {
    const window = this.sendWindow(scope);
    for (;;) {
      const verdict = this.mayPush(scope, slotAt, deadlineAt);
      if (verdict !== null) return verdict;
      const now = this.clock.monotonic();
      const freeAt = window.freeAt(now);
      if (freeAt <= now) {
        tickets.push(window.take(now));
        return null;
      }
      if (freeAt === Infinity) await window.nextAnswer();
      else await this.clock.sleep(freeAt - now);
    }
  }

  private sendWindow(scope: string): SendWindow {
    let w = this.sendWindows.get(scope);
    if (w === undefined) {
      w = new SendWindow(this.config.feishu.rateLimit, 1000 + RECONCILE.sendWindowMarginMs);
      this.sendWindows.set(scope, w);
    }
    return w;
  }

  private slotRun(scope: string): SlotRun {
    let r = this.slotRuns.get(scope);
    if (r === undefined) {
      r = new SlotRun();
      this.slotRuns.set(scope, r);
    }
    return r;
  }

  /** Now on the database's clock (ClockOffset keeps it on the monotonic clock). */
  private nowDb(): number {
    return this.clock.now() + this.dbClock.offsetMs;
  }

  /** Whether a push at its slot (the database's clock) may leave now; otherwise how it is put back. */
  private mayPush(scope: string, slotAt: number, deadlineAt: number): ((u: ClaimedUser) => Completion) | null {
    const mono = this.clock.monotonic();
    const pausedUntil = this.pausedUntil.get(scope) ?? 0;
    if (pausedUntil > mono) return (u) => deferred(u, pausedUntil - mono);
    const nowDb = this.nowDb();
    const late = nowDb - slotAt;
    // Late past the strict bound: sent anyway only while this replica has held every slot of the grid for the
    // last window and still holds the slots ahead (no other replica's push can share the window), SendWindow
    // keeping the count; otherwise the slot is given up, as a push late among other replicas' could overfill it.
    const alone = late <= RECONCILE.soleSenderLatenessMs && this.slotRun(scope).covers(nowDb - 1000 - RECONCILE.sendWindowMarginMs - RECONCILE.maxSlotLatenessMs, nowDb);
    if (late > RECONCILE.maxSlotLatenessMs && !alone) {
      this.metrics.slotsMissed.inc();
      return (u) => deferred(u, 0, 'not sent: its push slot had passed');
    }
    if (this.clock.monotonic() >= deadlineAt) return (u) => deferred(u, 0, 'not sent: its lease would expire first');
    return null;
  }

  /** The retry with a fresh token spends a slot of the budget like any push, and waits for it. */
  private async slotForRetry(scope: string, deadlineAt: number, tickets: SendTicket[]): Promise<boolean> {
    // The first attempt has been answered: its place in the send window counts from now (the retry may otherwise
    // wait for its own first attempt's answer, and every push behind it with it).
    const answeredAt = this.clock.monotonic();
    for (const t of tickets) this.sendWindow(scope).answered(t, answeredAt);
    try {
      const slot = await this.repository.reserveSlot(scope, this.owner, this.grid, RECONCILE.slotLeadMs);
      // Held back by the join gap (another replica holds the budget alone): the push is claimed again later.
      if (slot === null) return false;
      // Part of this replica's run of slots when it follows its last claim's and the budget is not shared: a retry
      // sent late for the send window (a slow answer before it) then keeps its slot as a claimed push would.
      this.slotRun(scope).claimed(slot.atMs, 1, slot.spacingMs, !slot.shared);
      const wait = slot.atMs - this.nowDb();
      if (this.clock.monotonic() + wait >= deadlineAt) return false;
      if (wait > 1) await this.clock.sleep(wait);
      return (await this.takeSend(scope, slot.atMs, deadlineAt, tickets)) === null;
    } catch (e) {
      this.log.warn({ err: e }, 'no push slot for the retry with a fresh token');
      return false;
    }
  }

  /** Retries a failed write (e.g. Postgres restarting) until the lease would have expired anyway. */
  private async complete(completions: Completion[]): Promise<void> {
    const giveUpAt = this.clock.monotonic() + this.config.reconcile.leaseMs;
    try {
      const written = await retry(() => this.repository.complete(this.owner, completions), {
        baseMs: 100,
        capMs: 2000,
        clock: this.clock,
        shouldRetry: () => this.clock.monotonic() <= giveUpAt,
      });
      if (written.length < completions.length) {
        this.log.warn({ lost: completions.length - written.length }, 'leases lost during push: results dropped');
      }
    } catch (e) {
      this.log.error({ err: e, users: completions.length }, 'could not record push results; leases will expire and retry');
    }
  }

  /** Until `at` on the monotonic clock, or a poke. */
  private async sleepUntil(at: number): Promise<void> {
    const ms = at - this.clock.monotonic();
    if (ms > 0 && !this.wake.signal.aborted) await this.clock.sleep(ms, this.wake.signal);
    this.wake = new AbortController();
  }

  private async updateGauges(): Promise<void> {
    try {
      const s = await this.repository.dirtySummary();
      this.metrics.dirtyUsers.set(s.dirty);
      this.metrics.oldestPendingSeconds.set(s.oldestMs === null ? 0 : Math.max(0, (this.clock.now() + this.dbClock.offsetMs - s.oldestMs) / 1000));
    } catch {
      // the next tick reports it
    }
  }
}
